"""LogMel against librosa.feature.melspectrogram + the same log.

Tolerances (float32 torch vs float32 librosa, observed maxima in brackets):
dB presets max |diff| < 1e-3 dB, i.e. a relative power error < 2.3e-4
[~2e-4 dB, at the -100 dB floor of a pure sine]; natural-log presets
max |diff| < 1e-4, i.e. relative error < 1e-4 on x + eps [~1e-5].
Both are float32 round-off level: the filterbank is librosa's own matrix.
The ``yamnet`` preset (TensorFlow's front end) is compared with numpy in float64
(librosa has no tf.signal framing); on a pure sine its bands far from the tone
are nearly empty, and there ln(mel + 0.001) shows the float32 FFT's round-off
(~1e-7 of the tone's bin leaks into every bin, as in TensorFlow itself): up to
3e-3 [2.6e-3]; 1e-4 elsewhere.
"""

import dataclasses

import numpy as np
import pytest
import torch

from models.yamnet_frontend import tf_mel_matrix
from tasks.features.logmel import PRESETS, LogMel, logmel_librosa, n_frames, n_samples_for_frames

TOL = {"db": 1e-3, "log_eps": 1e-4}


def _signals(sr: int, seconds: float) -> dict[str, np.ndarray]:
    n = round(sr * seconds)
    t = np.arange(n) / sr
    rng = np.random.default_rng(0)
    return {
        "noise": (0.1 * rng.standard_normal(n)).astype(np.float32),
        "sine": (0.5 * np.sin(2 * np.pi * 1000.0 * t)).astype(np.float32),
        "chirp_plus_noise": (0.3 * np.sin(2 * np.pi * (200 + 1500 * t) * t) + 0.01 * rng.standard_normal(n)).astype(
            np.float32
        ),
    }


@pytest.mark.slow
@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_matches_librosa(preset: str) -> None:
    p = PRESETS[preset]
    sigs = _signals(p.sample_rate, 1.0)
    batch = torch.from_numpy(np.stack(list(sigs.values())))
    out = LogMel(p)(batch).numpy()
    for i, (name, sig) in enumerate(sigs.items()):
        ref = logmel_librosa(sig, p)
        assert out[i].shape == ref.shape, name
        err = np.abs(out[i] - ref).max()
        tol = 3e-3 if (p.frontend, name) == ("tf", "sine") else TOL[p.log]
        assert err < tol, f"{preset}/{name}: max |diff| {err}"


def test_reflect_padding_matches_librosa() -> None:
    p = dataclasses.replace(PRESETS["pann"], pad_mode="reflect")
    sig = _signals(p.sample_rate, 0.5)["chirp_plus_noise"]
    out = LogMel(p)(torch.from_numpy(sig)).numpy()
    assert np.abs(out - logmel_librosa(sig, p)).max() < TOL["db"]


@pytest.mark.parametrize(
    ("preset", "samples", "frames"),
    [
        ("pann", 32000, 101),  # one second -> 101 x 64 (docs/methods.md#mel-targets)
        ("localisation", 5 * 22050, 251),  # 5 s -> 251 x 64 (section 3)
        ("t2a", 4 * 16000, 126),  # 4 s -> 126 x 64 (section 5)
        ("yamnet", 15600, 96),  # a 96 x 64 YAMNet patch: 0.975 s (tf.signal framing, see module docstring)
        ("yamnet", 15360, 94),  # 0.96 s alone gives 94 frames
    ],
)
def test_shapes(preset: str, samples: int, frames: int) -> None:
    p = PRESETS[preset]
    assert n_frames(p, samples) == frames
    out = LogMel(p)(torch.zeros(2, samples))
    assert out.shape == (2, frames, 64)
    assert n_frames(p, n_samples_for_frames(p, frames)) == frames


def test_yamnet_frames_are_tf_signal_frames() -> None:
    """Our yamnet frames = magnitudes of 400-sample Hann windows every 160 samples from sample 0, FFT zero-padded at
    the end to 512 (tf.signal.stft), times tf.signal's HTK mel matrix (YAMNet's front end), in float64 numpy."""
    p = PRESETS["yamnet"]
    sig = _signals(p.sample_rate, 1.0)["noise"][:15600]
    ours = LogMel(p)(torch.from_numpy(sig)).numpy()
    frames = np.stack([sig[k * 160 : k * 160 + 400] for k in range(96)]).astype(np.float64)
    mag = np.abs(np.fft.rfft(frames * np.hanning(401)[:400], n=512))  # periodic Hann
    mel = np.log(mag @ tf_mel_matrix().astype(np.float64) + 1e-3)
    assert ours.shape == (96, 64) and np.abs(ours - mel).max() < 1e-4


def test_batch_consistency_and_1d() -> None:
    p = PRESETS["pann"]
    m = LogMel(p)
    sigs = torch.from_numpy(np.stack(list(_signals(p.sample_rate, 0.5).values())))
    batched = m(sigs)
    for i in range(len(sigs)):
        single = m(sigs[i])
        assert single.shape == batched[i].shape
        assert torch.allclose(single, batched[i], atol=1e-4)
    assert torch.allclose(m(sigs.double()).float(), batched, atol=TOL["db"])


def test_silence_and_errors() -> None:
    out = LogMel(PRESETS["pann"])(torch.zeros(1, 3200))
    assert torch.all(out == -100.0)
    out = LogMel(PRESETS["t2a"])(torch.zeros(1, 3200))
    assert torch.allclose(out, torch.full_like(out, float(np.log(1e-3))))
    with pytest.raises(ValueError):
        LogMel(PRESETS["yamnet"])(torch.zeros(1, 100))
    with pytest.raises(ValueError):
        LogMel(PRESETS["pann"])(torch.zeros(1, 2, 3))


@pytest.mark.gpu
def test_cuda_matches_cpu() -> None:
    p = PRESETS["pann"]
    m = LogMel(p)
    x = torch.from_numpy(np.stack(list(_signals(p.sample_rate, 1.0).values())))
    cpu = m(x)
    gpu = m.to("cuda")(x.cuda())
    assert gpu.device.type == "cuda"
    assert torch.allclose(gpu.cpu(), cpu, atol=1e-2)


@pytest.mark.parametrize(
    "change",
    [{"power": 1.0}, {"power": 1.5}, {"win_length": 800}, {"center": False}],
    ids=["magnitude", "power-1.5", "short-window", "uncentred"],
)
def test_other_librosa_parameters_match_librosa(change: dict) -> None:
    """The paths the presets do not take: another power than 2 (re, im squared and summed before the
    projection), a window shorter than the FFT frame (centred in it, as librosa and torch.stft place it),
    frames without centring."""
    p = dataclasses.replace(PRESETS["t2a"], **change)
    sig = _signals(p.sample_rate, 0.5)["chirp_plus_noise"]
    out = LogMel(p)(torch.from_numpy(sig)).numpy()
    ref = logmel_librosa(sig, p)
    assert out.shape == ref.shape and np.abs(out - ref).max() < TOL[p.log]


def test_gradient_reaches_the_waveform() -> None:
    """The in-place steps are skipped when autograd needs their inputs."""
    wave = torch.from_numpy(_signals(16000, 0.25)["noise"]).requires_grad_()
    LogMel(PRESETS["t2a"])(wave).sum().backward()
    assert wave.grad is not None and torch.isfinite(wave.grad).all() and wave.grad.abs().sum() > 0
