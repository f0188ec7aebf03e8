"""LogMel against librosa.feature.melspectrogram + the same log.

Tolerances (float32 torch vs float32 librosa, observed maxima in brackets):
dB presets max |diff| < 1e-3 dB, i.e. a relative power error < 2.3e-4
[~2e-4 dB, at the -100 dB floor of a pure sine]; natural-log presets
max |diff| < 1e-4, i.e. relative error < 1e-4 on x + eps [~1e-5].
Both are float32 round-off level: the filterbank is librosa's own matrix.
"""

import dataclasses

import numpy as np
import pytest
import torch

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
        assert err < TOL[p.log], f"{preset}/{name}: max |diff| {err}"


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
        ("yamnet", 15712, 96),  # a 96 x 64 patch with center=False (librosa framing, see module docstring)
        ("yamnet", 15360, 93),  # 0.96 s alone gives 93 frames in this framing
    ],
)
def test_shapes(preset: str, samples: int, frames: int) -> None:
    p = PRESETS[preset]
    assert n_frames(p, samples) == frames
    out = LogMel(p)(torch.zeros(2, samples))
    assert out.shape == (2, frames, 64)
    assert n_frames(p, n_samples_for_frames(p, frames)) == frames


def test_yamnet_patch_equals_window_framing() -> None:
    """Our yamnet frames = magnitudes of 400-sample windows every 160 samples (YAMNet's framing), offset 56."""
    p = PRESETS["yamnet"]
    sig = _signals(p.sample_rate, 1.0)["noise"][:15712]
    ours = LogMel(p)(torch.from_numpy(sig)).numpy()
    offset = (p.n_fft - p.win_length) // 2
    frames = np.stack([sig[offset + k * 160 : offset + k * 160 + 400] for k in range(96)])
    mag = np.abs(np.fft.rfft(frames * np.hanning(401)[:400], n=512))  # periodic Hann
    mel = np.log(mag @ LogMel(p).mel.numpy().T + 1e-3)
    assert np.abs(ours - mel).max() < 1e-4


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
