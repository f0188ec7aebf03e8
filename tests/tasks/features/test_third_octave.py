import numpy as np
import pytest
import scipy.signal
import torch

from tasks.features.third_octave import ThirdOctave, ThirdOctaveParams, band_matrix, n_frames

P = ThirdOctaveParams()


def reference_levels(x: np.ndarray, p: ThirdOctaveParams = P) -> np.ndarray:
    """Direct float64 implementation of spec section 4: loop over frames and bands."""
    n = max(1, len(x) // p.hop)
    x = np.concatenate([x, np.zeros(max(0, (n - 1) * p.hop + p.frame - len(x)))])
    w = scipy.signal.windows.tukey(p.frame, p.tukey_alpha)
    w = w * np.sqrt(p.frame / np.sum(w**2))  # energy correction
    freqs = np.fft.rfftfreq(p.frame, 1 / p.sample_rate)
    out = np.zeros((n, p.n_bands))
    for t in range(n):
        spec = np.fft.fft(x[t * p.hop : t * p.hop + p.frame] * w)  # two-sided
        for b in range(p.n_bands):
            fc = 1000 * 10 ** ((b - 17) / 10)
            lo, hi = fc * 10 ** (-1 / 20), fc * 10 ** (1 / 20)
            ms = 0.0
            for k in np.nonzero((freqs >= lo) & (freqs < hi))[0]:
                ms += np.abs(spec[k]) ** 2 / p.frame**2
                if 0 < k < p.frame // 2:
                    ms += np.abs(spec[p.frame - k]) ** 2 / p.frame**2  # the negative-frequency twin
            out[t, b] = 10 * np.log10(max(ms, 1e-20)) + p.db_offset
    return out


def test_band_matrix() -> None:
    m = band_matrix(P)
    assert m.shape == (29, 2049)
    assert set(np.unique(m)) <= {0.0, 1.0}
    assert m.sum(axis=0).max() == 1  # bands do not overlap
    assert m[17, 128] == 1  # 1 kHz = bin 128 (7.8125 Hz bins)
    assert m[0].sum() == 0 and m[1].sum() == 1  # the lowest bands are (nearly) empty at this resolution


def test_matches_numpy_reference() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(32000) / 32000
    sigs = np.stack([0.1 * rng.standard_normal(32000), 0.2 * np.sin(2 * np.pi * 440 * t) + 0.01 * rng.standard_normal(32000)])
    out = ThirdOctave()(torch.from_numpy(sigs).float()).numpy()
    for i, s in enumerate(sigs):
        ref = reference_levels(s)
        finite = ref > -150  # band 0 is empty: both sit on the floor
        assert np.abs(out[i][finite] - ref[finite]).max() < 0.01  # dB, float32 vs float64
        assert np.all(out[i][~finite] == ref[~finite])


def test_sine_level_by_hand() -> None:
    a = 0.3
    x = a * np.sin(2 * np.pi * 1000 * np.arange(32000) / 32000)
    out = ThirdOctave()(torch.tensor(x, dtype=torch.float32)).numpy()
    # rms of a sine = a / sqrt(2): 20 log10(0.3 / 1.41421) + 26 = -13.468 + 26 = 12.532 dB
    expected = 20 * np.log10(a / np.sqrt(2)) + 26.0
    assert abs(expected - 12.532) < 1e-3
    full = out[:7]  # the 8th frame is zero-padded past the end of the signal
    assert np.all(full.argmax(axis=1) == 17)
    assert np.abs(full[:, 17] - expected).max() < 0.01
    assert np.all(np.delete(full, 17, axis=1) < expected - 40)  # little leakage into the other bands
    p = ThirdOctaveParams(db_offset=0.0)
    assert np.abs(ThirdOctave(p)(torch.tensor(x, dtype=torch.float32)).numpy()[:7, 17] - (expected - 26)).max() < 0.01


@pytest.mark.parametrize(("samples", "frames"), [(32000, 8), (320000, 80), (4096, 1), (100, 1), (35999, 8)])
def test_shapes(samples: int, frames: int) -> None:
    assert n_frames(P, samples) == frames
    assert ThirdOctave()(torch.zeros(3, samples)).shape == (3, frames, 29)


def test_batch_consistency() -> None:
    x = torch.randn(4, 16000)
    m = ThirdOctave()
    b = m(x)
    for i in range(4):
        assert torch.allclose(m(x[i]), b[i], atol=1e-4)
