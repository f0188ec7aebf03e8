"""Audio back from spectra: any wav through the true Mel and through each transcoder, inverted by Griffin-Lim
(Griffin & Lim, 1984; docs/methods.md#spectral-transcoder).

The clip is peak-normalised (0.9) and written as ``<name>_original.wav`` at the Mel's sample rate. Its
log-mel and third-octave levels come from the feature store's representations; each second of
third-octaves is transcoded to 100 Mel frames (the CNNs are convolutional, so any frame count works), the
seconds concatenated. Each log-mel is brought back to a linear Mel spectrogram and inverted:
:func:`tasks.transcoder.griffin_lim.griffin_lim` (NNLS to the STFT magnitude, then Griffin-Lim with momentum
0.99: librosa on the CPU, the same two steps in torch on a CUDA device). Files: ``<name>_generated_from_<source>.wav``,
source = mel, pinv, cnn_mels, cnn_logits.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
import torch

from soundflow.audio import load_audio
from soundflow.devices import pick_device
from soundflow.io import atomic_path
from tasks.features.logmel import PRESETS, LogMelParams
from tasks.features.representations import LogMelFeatures, ThirdOctaveFeatures
from tasks.transcoder.conditions import CONDITIONS, Transcoders
from tasks.transcoder.griffin_lim import griffin_lim
from tasks.transcoder.pairs import (
    MEL_FOR_TEACHER,
    chunks_of_clip,
    mel_frames_per_second,
    third_octave_frames_per_second,
)
from tasks.transcoder.params import TranscoderParams
from tasks.transcoder.pinv import PinvTranscoder

PEAK = 0.9


def normalised(x: np.ndarray) -> np.ndarray:
    peak = float(np.max(np.abs(x))) if len(x) else 0.0
    return (x * (PEAK / peak)).astype(np.float32) if peak > 0 else x.astype(np.float32)


def linear_mel(logmel: np.ndarray, p: LogMelParams) -> np.ndarray:
    """(frames, mels) log-mel -> (mels, frames) linear Mel (power or magnitude, as the preset computes it)."""
    lin = 10.0 ** (logmel / 10.0) if p.log == "db" else np.clip(np.exp(logmel) - p.eps, 0.0, None)
    return lin.T.astype(np.float32)


def transcoded_logmels(
    wav: Path, mel: str, transcoders: Transcoders, device: torch.device
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(the normalised clip at the Mel's rate, {source: (frames, mels) log-mel}) for whole seconds of ``wav``."""
    p = PRESETS[mel[len("logmel_") :]]
    clip = normalised(load_audio(wav, p.sample_rate))
    third_rep = ThirdOctaveFeatures()
    third = third_rep.compute([normalised(load_audio(wav, third_rep.sample_rate))], device)[0]
    true = LogMelFeatures(p, name=mel).compute([clip], device)[0].astype(np.float32)
    fps, tpf = mel_frames_per_second(mel), third_octave_frames_per_second()
    seconds = chunks_of_clip(len(third), len(true), mel)
    if seconds == 0:
        raise ValueError(f"{wav}: shorter than one second of audio; nothing to transcode")
    chunks = torch.from_numpy(np.stack([third[k * tpf : (k + 1) * tpf] for k in range(seconds)])).to(device)
    per_second = Transcoders(PinvTranscoder(mel, fps).to(device), transcoders.cnn_mels, transcoders.cnn_logits)
    out = {"mel": true[: seconds * fps]}
    with torch.no_grad():
        for name in CONDITIONS[1:]:
            out[name] = per_second.of(name)(chunks).float().cpu().numpy().reshape(seconds * fps, -1)
    return clip[: seconds * p.sample_rate], out


def audio_from_spectra(
    wav: Path, out_dir: Path, mel: str, transcoders: Transcoders, n_iter: int, device: torch.device
) -> list[Path]:
    """``<name>_original.wav`` and ``<name>_generated_from_<source>.wav`` of one clip in ``out_dir``."""
    p = PRESETS[mel[len("logmel_") :]]
    clip, logmels = transcoded_logmels(Path(wav), mel, transcoders, device)
    name = Path(wav).stem
    written = [_write(out_dir / f"{name}_original.wav", clip, p.sample_rate)]
    for source, logmel in logmels.items():
        wave = griffin_lim(linear_mel(logmel, p), p, n_iter, device)
        written.append(_write(out_dir / f"{name}_generated_from_{source}.wav", normalised(wave), p.sample_rate))
    return written


def _write(path: Path, wave: np.ndarray, sr: int) -> Path:
    with atomic_path(path) as tmp:
        sf.write(tmp, wave, sr, format="WAV", subtype="PCM_16")
    return path


def audio_examples(
    features_dir: Path, p: TranscoderParams, cnn_mels: Path, cnn_logits: Path, out_dir: Path, root: Path
) -> Path:
    """:func:`audio_from_spectra` of the first ``p.audio.clips`` test clips of a source (``features_dir/table.csv``)."""
    mel, clips, n_iter = MEL_FOR_TEACHER[p.teacher.name], p.audio.clips, p.audio.n_iter
    table = pd.read_csv(Path(features_dir) / "table.csv", keep_default_na=False, dtype={"split": str})
    chosen = table[table["split"] == "test"]["path"].head(clips)
    device = pick_device(p.device)
    transcoders = Transcoders.load(mel, cnn_mels, cnn_logits, device)
    with atomic_path(out_dir) as tmp:
        tmp.mkdir(parents=True)
        for path in chosen:
            audio_from_spectra(Path(root) / path, tmp, mel, transcoders, n_iter, device)
    return out_dir
