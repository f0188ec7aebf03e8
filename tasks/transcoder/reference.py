"""The transcoder authors' trained checkpoints run with this project's pieces, and their inputs made from a wav.

Tailleur et al. (DCASE 2023) published three CNN transcoders (modantailleur/paperSpectralTranscoder,
``reference_models/``): CNN-logits and CNN-mels for PANN (101 x 64 dB Mel) and CNN-logits for YAMNet (96 x 64
log-Mel). :func:`load_authors_transcoder` puts one in a :class:`models.transcoder_cnn.TranscoderCNN`
(:func:`models.transcoder_cnn.load_authors_cnn`, strict) behind the authors' PINV
(:class:`tasks.transcoder.pinv.PinvTranscoder` with ``method="authors"``). Their inputs, as their dataset
script makes them from a 10 s clip: the clip resampled (soxr HQ, librosa's ``load``) to 32 kHz and to 16 kHz,
each peak-normalised to 1; per 1 s chunk, the third-octave levels (the Cense defaults of
:mod:`tasks.features.third_octave`, float64 then float32) and the teacher's Mel of the 16 kHz chunk.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from models.checkpoint_format import CheckpointError
from models.transcoder_cnn import load_authors_cnn
from soundflow.audio import load_audio
from tasks.features.logmel import PRESETS, LogMel
from tasks.features.third_octave import ThirdOctave, ThirdOctaveParams
from tasks.transcoder.authors_mel import AuthorsYamnetMel
from tasks.transcoder.pairs import CHUNK_FRAMES
from tasks.transcoder.pinv import PinvTranscoder

MEL_OF_TYPE = {"YamNet": "logmel_yamnet", "PANN": "logmel_pann"}  # the settings' ``mels_type``


class AuthorsTranscoder(nn.Module):
    """(batch, 8, 29) third-octave dB -> (batch, frames, 64) log-mel: the authors' PINV, then their CNN."""

    def __init__(self, mel: str, cnn: nn.Module) -> None:
        super().__init__()
        self.mel = mel
        self.pinv = PinvTranscoder(mel, CHUNK_FRAMES[mel], ThirdOctaveParams(), method="authors")
        self.cnn = cnn

    def forward(self, third_octave: torch.Tensor) -> torch.Tensor:
        return self.cnn(self.pinv(third_octave))


def load_authors_transcoder(path: str | os.PathLike[str]) -> AuthorsTranscoder:
    """One of the authors' checkpoints (its ``_settings.yaml`` beside it names the Mel), in eval mode."""
    cnn, settings = load_authors_cnn(path)
    if settings is None:
        raise CheckpointError(f"{path}: no {Path(path).name}_settings.yaml beside it to say which Mel it makes")
    mel = MEL_OF_TYPE.get(settings.get("mels_type"))
    if mel is None:
        raise CheckpointError(f"{path}: mels_type {settings.get('mels_type')!r} is not one of {sorted(MEL_OF_TYPE)}")
    wanted = (CHUNK_FRAMES[mel], PRESETS[mel[len("logmel_") :]].n_mels)
    if tuple(settings.get("output_shape", ())) != wanted:
        raise CheckpointError(f"{path}: output_shape {settings.get('output_shape')} is not {mel}'s {wanted}")
    return AuthorsTranscoder(mel, cnn).eval()


def peak_normalised(x: np.ndarray) -> np.ndarray:
    """``librosa.util.normalize``: divided by the peak magnitude (in float64), back to float32."""
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    return (x / peak).astype(np.float32) if peak > 0 else x.astype(np.float32)


def clip_waves(wav: str | os.PathLike[str]) -> tuple[np.ndarray, np.ndarray]:
    """(32 kHz, 16 kHz) peak-normalised mono float32 waveforms of ``wav``."""
    return peak_normalised(load_audio(wav, 32000)), peak_normalised(load_audio(wav, 16000))


def whole_chunks(x: np.ndarray, sample_rate: int) -> np.ndarray:
    """(n, sample_rate) the whole seconds of ``x``."""
    n = len(x) // sample_rate
    if n == 0:
        raise ValueError(f"{len(x)} samples at {sample_rate} Hz: not one whole second")
    return x[: n * sample_rate].reshape(n, sample_rate)


def third_octave_chunks(x32: np.ndarray) -> torch.Tensor:
    """(n, 8, 29) float32 levels of each whole second at 32 kHz, computed in float64 as the authors do."""
    return ThirdOctave()(torch.from_numpy(whole_chunks(x32, 32000).astype(np.float64))).float()


def authors_teacher_mel(x16: np.ndarray) -> torch.Tensor:
    """(n, 96, 64) the authors' YAMNet teacher Mel (:class:`AuthorsYamnetMel`) of each whole second at 16 kHz."""
    return AuthorsYamnetMel()(torch.from_numpy(whole_chunks(x16, 16000)))


def google_teacher_mel(x16: np.ndarray) -> torch.Tensor:
    """(n, 96, 64) YAMNet's own (TensorFlow) front end, the ``logmel_yamnet`` preset, on the whole clip; second
    ``k`` is frames ``100 k .. 100 k + 95``, as the paired stores cut it (:mod:`tasks.transcoder.pairs`)."""
    with torch.inference_mode():
        frames = LogMel(PRESETS["yamnet"])(torch.from_numpy(np.ascontiguousarray(x16, dtype=np.float32)))
    n = min(len(x16) // 16000, (len(frames) - CHUNK_FRAMES["logmel_yamnet"]) // 100 + 1)
    return torch.stack([frames[100 * k : 100 * k + CHUNK_FRAMES["logmel_yamnet"]] for k in range(n)])
