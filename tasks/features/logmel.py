"""Batched log-mel spectrograms in torch that reproduce librosa.

Presets (docs/methods.md#log-mel-presets):

==============  =======  =====  ===  ===  ======  ============  =============  ======
preset          sr (Hz)  n_fft  win  hop  n_mels  fmin-fmax Hz  log            power
==============  =======  =====  ===  ===  ======  ============  =============  ======
``pann``        32000    1024   1024 320  64      50-14000      dB (10 log10)  2
``yamnet``      16000    512    400  160  64      125-7500      ln(x + 0.001)  1
``localisation`` 22050   882    882  441  64      0-11025       ln(x + 1e-6)   2
``t2a``         16000    1024   1024 512  64      0-8000        ln(x + 0.001)  2
==============  =======  =====  ===  ===  ======  ============  =============  ======

Computation, identical to ``librosa.feature.melspectrogram`` (librosa 0.11)
followed by the log: STFT with a periodic Hann window of ``win_length``
zero-padded (centred) to ``n_fft``; ``center=True`` pads ``n_fft // 2``
samples on both sides with ``pad_mode`` (librosa 0.11's default is
``"constant"``, i.e. zeros; PANN's torchlibrosa used ``"reflect"``, available
here as an option); ``|STFT| ** power``; projection on
``librosa.filters.mel(htk=False, norm="slaney")`` (but ``yamnet``, below); then either
``10 * log10(max(x, 1e-10))`` (= ``librosa.power_to_db(ref=1.0, amin=1e-10,
top_db=None)``) or ``log(x + eps)``.

Frame counts: ``center=True`` gives ``1 + n // hop`` frames (PANN: one second
-> 101 x 64; localisation: 5 s -> 251 x 64; t2a: 4 s -> 126 x 64).

The ``yamnet`` preset is YAMNet's own TensorFlow front end (``frontend="tf"``,
:mod:`models.yamnet_frontend`; checked against TF YAMNet's log-mel to 1e-4 in
tests/models/test_yamnet_real.py): frames of ``win_length`` = 400 samples every
160, no centring, the windowed frame zero-padded at its end to the 512-point
FFT (``tf.signal.stft``), magnitude (``power=1``), the
``tf.signal.linear_to_mel_weight_matrix`` (HTK mel scale, unnormalised
triangles, no DC), ``ln(x + 0.001)``: ``1 + (n - 400) // 160`` frames, so a
96 x 64 YAMNet patch takes 15600 samples (0.975 s). It differed from librosa's
``center=False`` framing used before in two ways: librosa frames the 512-sample
FFT frame with the 400-sample window in its middle (every frame 56 samples
later, 112 samples more per clip) and builds a Slaney-scale, area-normalised
mel matrix (values ~1e-3 instead of peaks of 1, so the log-mel differed by
several nats). Unlike YAMNet's inference (:func:`models.yamnet_frontend.log_mel_and_patches`)
the store does not pad clips: its frames cover the clip, as the other presets' do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import librosa
import numpy as np
import torch
import torch.nn.functional as F

from models.yamnet_frontend import tf_hann_window, tf_mel_matrix, tf_stft_magnitude

AMIN_DB = 1e-10
# The mel projection in this many matrix products of consecutive filters, each over the FFT bins its filters
# cover: a mel matrix is banded (each bin feeds at most two triangles), so four blocks do about a quarter of
# the dense product's multiply-adds (PANN: 461 of 4 x 513 bins) and measured fastest on the CPU (2 and 8 slower)
MEL_BLOCKS = 4


@dataclass(frozen=True)
class LogMelParams:
    sample_rate: int
    n_fft: int
    win_length: int
    hop_length: int
    n_mels: int
    fmin: float
    fmax: float
    log: Literal["db", "log_eps"]
    eps: float
    center: bool
    power: float = 2.0
    pad_mode: Literal["constant", "reflect"] = "constant"
    # "tf": tf.signal's STFT framing and mel matrix (YAMNet's front end); "librosa": librosa's
    frontend: Literal["librosa", "tf"] = "librosa"


PRESETS: dict[str, LogMelParams] = {
    "pann": LogMelParams(32000, 1024, 1024, 320, 64, 50.0, 14000.0, "db", AMIN_DB, True),
    "yamnet": LogMelParams(16000, 512, 400, 160, 64, 125.0, 7500.0, "log_eps", 1e-3, False, power=1.0, frontend="tf"),
    "localisation": LogMelParams(22050, 882, 882, 441, 64, 0.0, 11025.0, "log_eps", 1e-6, True),
    "t2a": LogMelParams(16000, 1024, 1024, 512, 64, 0.0, 8000.0, "log_eps", 1e-3, True),
}


def frame_samples(p: LogMelParams) -> int:
    """Samples of one uncentred frame: the FFT frame (librosa) or the window alone (tf.signal)."""
    return p.win_length if p.frontend == "tf" else p.n_fft


def n_frames(p: LogMelParams, n_samples: int) -> int:
    """Frames produced for ``n_samples`` samples (see module docstring)."""
    if p.center:
        return 1 + n_samples // p.hop_length
    if n_samples < frame_samples(p):
        raise ValueError(f"{n_samples} samples < one frame of {frame_samples(p)} with center=False")
    return 1 + (n_samples - frame_samples(p)) // p.hop_length


def n_samples_for_frames(p: LogMelParams, frames: int) -> int:
    """Fewest samples giving ``frames`` frames."""
    if p.center:
        return (frames - 1) * p.hop_length
    return frame_samples(p) + (frames - 1) * p.hop_length


def mel_filterbank(p: LogMelParams, sample_rate: int | None = None, n_fft: int | None = None) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) float32 mel matrix of the preset (on another FFT's bins when given):
    librosa's Slaney one, or ``tf.signal.linear_to_mel_weight_matrix`` for ``frontend="tf"``."""
    sr, n_fft = sample_rate or p.sample_rate, n_fft or p.n_fft
    if p.frontend == "tf":
        return np.ascontiguousarray(tf_mel_matrix(p.n_mels, n_fft, sr, p.fmin, p.fmax).T)
    return librosa.filters.mel(
        sr=sr, n_fft=n_fft, n_mels=p.n_mels, fmin=p.fmin, fmax=p.fmax, htk=False, norm="slaney"
    ).astype(np.float32)


def mel_blocks(mel: np.ndarray, blocks: int = MEL_BLOCKS) -> list[tuple[int, int]]:
    """``(first, stop)`` FFT bins of each of ``blocks`` groups of consecutive filters (rows of ``mel``):
    the bins where any filter of the group is nonzero, so that the product over them equals the dense one."""
    out = []
    for rows in np.array_split(np.arange(len(mel)), min(blocks, len(mel))):
        cols = np.flatnonzero((mel[rows] != 0).any(axis=0))
        out.append((int(cols[0]), int(cols[-1]) + 1) if len(cols) else (0, 1))  # an all-zero group: any one bin
    return out


class LogMel(torch.nn.Module):
    """(batch, samples) or (samples,) waveform -> (batch, frames, n_mels) or (frames, n_mels) log-mel."""

    def __init__(self, params: LogMelParams) -> None:
        super().__init__()
        if params.win_length > params.n_fft:
            raise ValueError("win_length must be <= n_fft")
        if params.frontend == "tf" and params.center:
            raise ValueError("the tf front end frames without centring (center=False)")
        self.params = params
        mel = mel_filterbank(params)
        self.register_buffer("mel", torch.from_numpy(mel), persistent=False)
        self.blocks = mel_blocks(mel)
        rows = np.array_split(np.arange(len(mel)), len(self.blocks))
        for i, ((a, b), r) in enumerate(zip(self.blocks, rows)):
            # (bins, filters) of the block, contiguous: the right operand of (batch, frames, bins) @ it
            block = torch.from_numpy(np.ascontiguousarray(mel[r, a:b].T))
            self.register_buffer(f"mel_block{i}", block, persistent=False)
        self.band = (min(a for a, _ in self.blocks), max(b for _, b in self.blocks))
        if params.frontend == "tf":
            window = torch.from_numpy(tf_hann_window(params.win_length))  # TF's float32 values
        else:
            window = torch.hann_window(params.win_length, periodic=True)
        self.register_buffer("window", window, persistent=False)

    def power_mel(self, wave: torch.Tensor) -> torch.Tensor:
        """Linear mel spectrogram (batch, frames, n_mels), before the log."""
        p = self.params
        wave = wave.to(self.mel.dtype if not wave.is_floating_point() else wave.dtype)
        if p.frontend == "tf":
            magnitude = tf_stft_magnitude(wave, self.window.to(wave.dtype), p.hop_length, p.n_fft)
            return self.project(magnitude.pow(p.power))
        if p.center:
            pad = p.n_fft // 2
            if p.pad_mode == "reflect" and wave.shape[-1] <= pad:
                raise ValueError(f"reflect padding needs more than {pad} samples")
            wave = F.pad(wave.unsqueeze(1), (pad, pad), mode=p.pad_mode).squeeze(1)
        elif wave.shape[-1] < p.n_fft:
            raise ValueError(f"{wave.shape[-1]} samples < n_fft={p.n_fft} with center=False")
        spec = torch.stft(
            wave,
            n_fft=p.n_fft,
            hop_length=p.hop_length,
            win_length=p.win_length,
            window=self.window.to(wave.dtype),
            center=False,
            return_complex=True,
        )  # (batch, freq, frames), laid out as (batch, frames, freq)
        # |X|^2 from the real and imaginary parts: complex abs() goes through hypot and costs more than the FFT.
        # Only the bins some filter uses (PANN: 2 .. 447 of 513) are squared; (batch, frames, bins) keeps the
        # FFT's own memory order, so the projection reads it without a copy
        lo, hi = self.band
        parts = torch.view_as_real(spec.transpose(1, 2)[..., lo:hi])
        power = torch.addcmul(parts[..., 0].square(), parts[..., 1], parts[..., 1])
        if p.power == 1.0:
            power = power.sqrt()
        elif p.power != 2.0:
            power = power.pow(p.power / 2.0)
        return self.project(power, lo)

    def project(self, power: torch.Tensor, first_bin: int = 0) -> torch.Tensor:
        """(batch, frames, bins from ``first_bin``) power or magnitude -> (batch, frames, n_mels), block by block
        (:data:`MEL_BLOCKS`): the same sums as the dense product, without the zeros of the mel matrix."""
        parts = [
            torch.matmul(power[..., a - first_bin : b - first_bin], getattr(self, f"mel_block{i}").to(power.dtype))
            for i, (a, b) in enumerate(self.blocks)
        ]
        return torch.cat(parts, dim=-1)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        squeeze = wave.dim() == 1
        if squeeze:
            wave = wave.unsqueeze(0)
        if wave.dim() != 2:
            raise ValueError(f"expected (batch, samples), got {tuple(wave.shape)}")
        mel = self.power_mel(wave)
        if self.params.log == "db":
            out = 10.0 * torch.log10(mel.clamp_min(AMIN_DB))
        else:
            out = torch.log(mel + self.params.eps)
        return out.squeeze(0) if squeeze else out


def logmel_librosa(wave: np.ndarray, p: LogMelParams) -> np.ndarray:
    """Reference: one clip through librosa, (frames, n_mels) (slow; tests and benchmarks).

    librosa has no tf.signal front end: for ``frontend="tf"`` numpy's FFT of ``librosa.util.frame``
    frames, times the numpy TF mel matrix.
    """
    if p.frontend == "tf":
        frames = librosa.util.frame(wave, frame_length=p.win_length, hop_length=p.hop_length, axis=0)
        window = tf_hann_window(p.win_length)  # periodic Hann, TF's float32 values
        spec = np.abs(np.fft.rfft(frames * window, n=p.n_fft)) ** p.power
        return _log(spec @ mel_filterbank(p).T, p)
    mel = librosa.feature.melspectrogram(
        y=wave,
        sr=p.sample_rate,
        n_fft=p.n_fft,
        hop_length=p.hop_length,
        win_length=p.win_length,
        window="hann",
        center=p.center,
        pad_mode=p.pad_mode,
        power=p.power,
        n_mels=p.n_mels,
        fmin=p.fmin,
        fmax=p.fmax,
        htk=False,
        norm="slaney",
    )
    return _log(mel.T, p)


def _log(mel: np.ndarray, p: LogMelParams) -> np.ndarray:
    if p.log == "db":
        return librosa.power_to_db(mel, ref=1.0, amin=AMIN_DB, top_db=None)
    return np.log(mel + p.eps)
