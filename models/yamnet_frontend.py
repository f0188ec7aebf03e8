"""YAMNet's waveform front end exactly as Google's TensorFlow graph computes it (``features.py`` and
``params.py`` of research/audioset/yamnet in tensorflow/models; the constants below were read back from
the published SavedModel's graph, see ``shared/data/yamnet/README.md``).

16 kHz mono float waveform in [-1, 1] ->

1. zero-padded at its end to at least 15,600 samples (one 0.96 s patch plus the rest of the last
   25 ms window), then up to a whole number of 7,680-sample (0.48 s) patch hops;
2. ``tf.signal.stft``: frames of 400 samples (25 ms) every 160 (10 ms), no centring, each multiplied by
   a periodic Hann window of 400 and zero-padded *at its end* to the 512-point FFT;
3. magnitude (not power), times the ``tf.signal.linear_to_mel_weight_matrix`` of 64 bands over
   125-7500 Hz (HTK mel scale ``1127 ln(1 + f / 700)``, unnormalised triangles, the DC bin zeroed);
4. ``ln(mel + 0.001)`` -> (frames, 64), ``1 + (samples - 400) // 160`` frames;
5. patches of 96 frames (0.96 s) every 48 frames (0.48 s) -> (patches, 96, 64), one score row each.

This is the reference for the ``logmel_yamnet`` preset of the feature store (tasks/features/logmel.py).
"""

from __future__ import annotations

import numpy as np
import scipy.fft
import torch
from torch import nn

SAMPLE_RATE = 16000
WINDOW = 400  # 25 ms
HOP = 160  # 10 ms
N_FFT = 512  # the next power of two above the window
N_MELS = 64
FMIN, FMAX = 125.0, 7500.0
LOG_OFFSET = 1e-3
PATCH_FRAMES = 96  # 0.96 s
PATCH_HOP_FRAMES = 48  # 0.48 s
MIN_SAMPLES = WINDOW + (PATCH_FRAMES - 1) * HOP  # 15,600: the samples of one patch
PAD_HOP = PATCH_HOP_FRAMES * HOP  # 7,680


def hertz_to_mel_htk(f: np.ndarray) -> np.ndarray:
    """The HTK mel scale that ``tf.signal`` uses (O'Shaughnessy, 1987): ``1127 ln(1 + f / 700)``."""
    return 1127.0 * np.log1p(np.asarray(f, dtype=np.float64) / 700.0)


def tf_mel_matrix(
    n_mels: int = N_MELS, n_fft: int = N_FFT, sample_rate: int = SAMPLE_RATE, fmin: float = FMIN, fmax: float = FMAX
) -> np.ndarray:
    """``tf.signal.linear_to_mel_weight_matrix(n_mels, n_fft // 2 + 1, sample_rate, fmin, fmax)`` in numpy.

    (n_fft // 2 + 1, n_mels) float32. Triangles with peak 1 whose edges are equally spaced on the HTK mel
    scale, evaluated at the FFT bins' frequencies in mel; the DC bin gets no weight. Unlike librosa's
    default (Slaney scale, area-normalised triangles) no normalisation is applied.
    """
    bins = n_fft // 2 + 1
    freqs = np.linspace(0.0, sample_rate / 2.0, bins)[1:]  # DC row is zero (TF's bands_to_zero=1)
    mel = hertz_to_mel_htk(freqs)[:, None]
    edges = np.linspace(hertz_to_mel_htk(fmin), hertz_to_mel_htk(fmax), n_mels + 2)
    lower, centre, upper = edges[:-2][None], edges[1:-1][None], edges[2:][None]
    rising = (mel - lower) / (centre - lower)
    falling = (upper - mel) / (upper - centre)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    return np.concatenate([np.zeros((1, n_mels)), weights]).astype(np.float32)


def _eigen_cos_float32(x: np.ndarray) -> np.ndarray:
    """cos of float32 ``x`` in [0, 2^14) as TensorFlow's CPU ``Cos`` op computes it: Eigen's SIMD ``pcos_float``
    (Eigen/src/Core/arch/Default/GenericPacketMathFunctions.h, the variant without fused multiply-add), every
    step rounded to float32. Differs from the correctly rounded cosine by up to 1 ulp on some inputs."""
    f32 = np.float32
    x = np.abs(x.astype(f32))
    magic = f32(2**23 + 2**22)  # adding it rounds to an integer held in the low mantissa bits
    y_round = x * f32(2 / np.pi) + magic
    quadrant = y_round.view(np.int32)
    y = y_round - magic
    # x - y pi/2 in four float32 pieces of pi/2 (Cody-Waite reduction): |x| <= pi/4 after it
    for piece in (
        -1.5703125,
        -0.000483989715576171875,
        1.62865035235881805419921875e-07,
        5.5644315544167710640977020375430583953857421875e-11,
    ):
        x = y * f32(piece) + x
    x2 = x * x
    cos_poly = f32(2.4372266125283204019069671630859375e-05)
    for c in (-0.00138865201734006404876708984375, 0.041666619479656219482421875, -0.5, 1.0):
        cos_poly = cos_poly * x2 + f32(c)
    sin_poly = f32(-0.0001959234114083702898469196984621021329076029360294342041015625)
    for c in (
        0.0083326873655616851693794799871284340042620897293090820312500000,
        -0.1666666203982298255503735617821803316473960876464843750000000000,
    ):
        sin_poly = sin_poly * x2 + f32(c)
    sin_poly = sin_poly * x2 * x + x
    out = np.where((quadrant & 1) == 0, cos_poly, sin_poly).astype(f32)
    sign = ((quadrant + 1) << 30) & np.int32(-(2**31))  # cos is negative in quadrants 1 and 2
    return (out.view(np.int32) ^ sign).view(f32)


def tf_hann_window(length: int = WINDOW) -> np.ndarray:
    """``tf.signal.hann_window(length, periodic=True)`` bit for bit, as it sits in YAMNet's graph (float32).

    ``0.5 - 0.5 cos(2 pi n / length)`` in float32 with TF's cosine. The float32 rounding matters: a 1-ulp
    change of the window (``torch.hann_window`` differs so in 144 of the 400 values, numpy's float64 Hann
    rounded to float32 in 276) leaks ~1e-7 of a loud bin into every bin, which moves ln(mel + 0.001) of a
    near-empty band by up to 2e-3 on the reference clips (tests/models/test_yamnet_real.py).
    """
    count = np.arange(length).astype(np.float32)
    arg = np.float32(2 * np.pi) * count / np.float32(length)
    return np.float32(0.5) - np.float32(0.5) * _eigen_cos_float32(arg)


def padded_length(n_samples: int) -> int:
    """Samples after YAMNet's end padding: >= 15,600, then a whole number of 7,680-sample hops beyond that."""
    n = max(n_samples, MIN_SAMPLES)
    return MIN_SAMPLES + -(-(n - MIN_SAMPLES) // PAD_HOP) * PAD_HOP


def pad_waveform(wave: torch.Tensor) -> torch.Tensor:
    """``wave`` (..., samples) zero-padded at its end to :func:`padded_length`."""
    return nn.functional.pad(wave, (0, padded_length(wave.shape[-1]) - wave.shape[-1]))


def tf_stft_magnitude(wave: torch.Tensor, window: torch.Tensor, hop: int, n_fft: int) -> torch.Tensor:
    """``|tf.signal.stft(wave, len(window), hop, n_fft)|``: (..., samples) -> (..., frames, n_fft // 2 + 1).

    Frames start at 0, hop, 2 hop, ... and hold ``len(window)`` samples; the windowed frame is zero-padded
    at its end to ``n_fft`` (``torch.stft`` would centre a short window inside the FFT frame instead, which
    moves every frame by ``(n_fft - len(window)) / 2`` samples).
    """
    if wave.shape[-1] < len(window):
        raise ValueError(f"{wave.shape[-1]} samples < one {len(window)}-sample frame")
    frames = wave.unfold(-1, len(window), hop) * window
    if frames.device.type == "cpu" and frames.dtype == torch.float32 and not frames.requires_grad:
        # float32 pocketfft (scipy.fft), the algorithm of TensorFlow's CPU FFT (DUCC, pocketfft's successor):
        # the same float32 rounding. Round-off of a loud bin leaks ~1e-7 of it into every bin, so a near-empty
        # band beside a loud one is round-off: on the 8 reference clips, with the graph's own mel matrix, the
        # log-mel is TF's to 4.8e-7 this way and to 1.6e-3 with torch's FFT (float64 is as far from TF).
        spec = scipy.fft.rfft(frames.numpy(), n=n_fft, axis=-1)
        return torch.from_numpy(np.abs(spec))
    return torch.fft.rfft(frames, n=n_fft).abs()


class YamnetFrontEnd(nn.Module):
    """Waveform (samples,) or (batch, samples) at 16 kHz -> log-mel (…, frames, 64), Google's front end.

    No padding here: :func:`log_mel_and_patches` applies YAMNet's waveform padding first.
    """

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("window", torch.from_numpy(tf_hann_window(WINDOW)), persistent=False)
        self.register_buffer("mel", torch.from_numpy(tf_mel_matrix()), persistent=False)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        wave = wave.to(self.mel.dtype)
        magnitude = tf_stft_magnitude(wave, self.window, HOP, N_FFT)
        return torch.log(magnitude @ self.mel + LOG_OFFSET)


def patches(log_mel: torch.Tensor) -> torch.Tensor:
    """(…, frames, 64) -> (…, patches, 96, 64): ``tf.signal.frame`` of 96 frames every 48 (no end padding)."""
    if log_mel.shape[-2] < PATCH_FRAMES:
        raise ValueError(f"{log_mel.shape[-2]} log-mel frames < one {PATCH_FRAMES}-frame patch")
    return log_mel.unfold(-2, PATCH_FRAMES, PATCH_HOP_FRAMES).transpose(-1, -2)


def log_mel_and_patches(wave: torch.Tensor | np.ndarray, front: YamnetFrontEnd | None = None):
    """YAMNet's padding, log-mel and patching of a 16 kHz waveform: ``(log_mel (frames, 64), patches (n, 96, 64))``."""
    wave = torch.as_tensor(np.asarray(wave, dtype=np.float32) if isinstance(wave, np.ndarray) else wave)
    if wave.dim() != 1:
        raise ValueError(f"expected a mono waveform (samples,), got {tuple(wave.shape)}")
    front = front if front is not None else YamnetFrontEnd()
    log_mel = front(pad_waveform(wave.to(front.mel.device)))
    return log_mel, patches(log_mel)
