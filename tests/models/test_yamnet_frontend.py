"""YAMNet's TensorFlow front end (models/yamnet_frontend.py) from its definition, without the shared data
(tests/models/test_yamnet_real.py compares it with TensorFlow's own outputs)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.yamnet_frontend import (
    YamnetFrontEnd,
    hertz_to_mel_htk,
    log_mel_and_patches,
    padded_length,
    tf_hann_window,
    tf_mel_matrix,
    tf_stft_magnitude,
)


def test_hann_window_is_the_exact_one_to_float32_rounding() -> None:
    """TF computes the argument 2 pi n / 400 in float32 too: 2.5e-7 from the exact window at most [2.46e-7]."""
    w = tf_hann_window(400)
    exact = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(400) / 400)
    assert w.dtype == np.float32 and np.abs(w - exact).max() <= 2.5e-7 and w[0] == 0.0


@pytest.mark.parametrize(
    ("samples", "padded", "frames", "n_patches"),
    [(80000, 84720, 528, 10), (64000, 69360, 432, 8), (1, 15600, 96, 1), (15600, 15600, 96, 1), (15601, 23280, 144, 2)],
)
def test_padding_frames_and_patches(samples: int, padded: int, frames: int, n_patches: int) -> None:
    """README of shared/data/yamnet: >= 15,600 samples, then whole 7,680-sample hops; 5 s -> 528 frames, 10 patches."""
    assert padded_length(samples) == padded
    log_mel, patch = log_mel_and_patches(np.zeros(samples, np.float32))
    assert log_mel.shape == (frames, 64) and patch.shape == (n_patches, 96, 64)
    assert torch.equal(patch[-1], log_mel[48 * (n_patches - 1) : 48 * (n_patches - 1) + 96])


def test_mel_matrix_is_htk_triangles_peaking_at_their_centres() -> None:
    m = tf_mel_matrix()  # (257, 64)
    assert m.shape == (257, 64) and not m[0].any() and (m >= 0).all() and m.max() <= 1.0
    centres = np.linspace(hertz_to_mel_htk(125.0), hertz_to_mel_htk(7500.0), 66)[1:-1]
    bin_mel = hertz_to_mel_htk(np.arange(257) * 8000.0 / 256)
    assert (np.abs(bin_mel[m.argmax(0)] - centres) <= np.diff(bin_mel)[m.argmax(0) - 1]).all()  # within one bin
    assert m.max(0).min() > 0.5  # every band holds a bin near its peak (none empty at 31.25 Hz resolution)


def test_stft_is_tf_framing_and_both_ffts_agree() -> None:
    rng = np.random.default_rng(0)
    wave = (0.1 * rng.standard_normal(4000)).astype(np.float32)
    window = torch.from_numpy(tf_hann_window(400))
    ours = tf_stft_magnitude(torch.from_numpy(wave), window, 160, 512).numpy()  # scipy's float32 pocketfft
    frames = np.stack([wave[k * 160 : k * 160 + 400] for k in range(1 + (4000 - 400) // 160)]).astype(np.float64)
    ref = np.abs(np.fft.rfft(frames * window.double().numpy(), n=512))
    assert ours.shape == ref.shape == (23, 257) and np.abs(ours - ref).max() < 1e-5
    torch_fft = tf_stft_magnitude(torch.from_numpy(wave).requires_grad_(), window, 160, 512).detach().numpy()
    assert np.abs(torch_fft - ref).max() < 1e-5


def test_front_end_refuses_short_and_multichannel_input() -> None:
    with pytest.raises(ValueError, match="one 400-sample frame"):
        YamnetFrontEnd()(torch.zeros(399))
    with pytest.raises(ValueError, match="mono"):
        log_mel_and_patches(np.zeros((2, 16000), np.float32))
