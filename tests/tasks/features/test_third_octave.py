import numpy as np
import pytest
import scipy.signal
import torch

from tasks.features.third_octave import (
    ThirdOctave,
    ThirdOctaveParams,
    band_centres,
    band_edges,
    band_matrix,
    band_weights,
    n_frames,
    tukey_window,
)

P = ThirdOctaveParams()


def reference_levels(x: np.ndarray, p: ThirdOctaveParams = P) -> np.ndarray:
    """Direct float64 implementation of docs/methods.md#third-octave-levels: loop over frames and bands."""
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
    sigs = np.stack(
        [0.1 * rng.standard_normal(32000), 0.2 * np.sin(2 * np.pi * 440 * t) + 0.01 * rng.standard_normal(32000)]
    )
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


def test_shapes_of_a_batch_of_one_and_of_tiny_clips() -> None:
    assert ThirdOctave()(torch.zeros(1, 8000)).shape == (1, 2, 29)  # a batch of one stays a batch
    assert ThirdOctave()(torch.zeros(8, 3)).shape == (8, 1, 29)  # more clips than samples: one padded frame each


def test_no_state_to_save() -> None:
    # window and band weights derive from the parameters: a checkpoint of a model using them carries neither
    assert dict(ThirdOctave().state_dict()) == {}
    assert {name for name, _ in ThirdOctave().named_buffers()} == {"window", "weights"}


def test_batch_consistency() -> None:
    x = torch.randn(4, 16000)
    m = ThirdOctave()
    b = m(x)
    for i in range(4):
        assert torch.allclose(m(x[i]), b[i], atol=1e-4)


# The transcoder's numbers (Tailleur et al., 2023), written out here rather than read from ThirdOctaveParams,
# so a changed default fails.
SR, N, HOP, ALPHA, BANDS, OFFSET = 32000, 4096, 4000, 0.2, 29, 26.0


def literal_tukey() -> np.ndarray:
    """Tukey (alpha 0.2, symmetric) from its formula, scaled to mean(w ** 2) == 1."""
    x = np.arange(N) / (N - 1)
    w = np.ones(N)
    rise, fall = x < ALPHA / 2, x > 1 - ALPHA / 2
    w[rise] = 0.5 * (1 + np.cos(2 * np.pi / ALPHA * (x[rise] - ALPHA / 2)))
    w[fall] = 0.5 * (1 + np.cos(2 * np.pi / ALPHA * (x[fall] - 1 + ALPHA / 2)))
    return w / np.sqrt(np.mean(w**2))


def literal_levels(x: np.ndarray) -> np.ndarray:
    """Levels from the literal constants: frames, window, one-sided Parseval sums, 10 log10 + 26 dB."""
    frames = max(1, len(x) // HOP)
    x = np.concatenate([np.asarray(x, np.float64), np.zeros((frames - 1) * HOP + N)])
    freqs = np.arange(N // 2 + 1) * SR / N
    fc = 1000 * 10 ** ((np.arange(BANDS) - 17) / 10)
    masks = (freqs >= fc[:, None] * 10**-0.05) & (freqs < fc[:, None] * 10**0.05)
    c = np.where((freqs == 0) | (freqs == SR / 2), 1.0, 2.0)
    w = literal_tukey()
    out = np.empty((frames, BANDS))
    for t in range(frames):
        power = np.abs(np.fft.rfft(x[t * HOP : t * HOP + N] * w)) ** 2 * c / N**2
        out[t] = 10 * np.log10(np.maximum(masks @ power, 1e-20)) + OFFSET
    return out


def test_defaults_are_the_spec_constants() -> None:
    assert (P.sample_rate, P.frame, P.hop, P.tukey_alpha, P.n_bands, P.db_offset) == (SR, N, HOP, ALPHA, BANDS, OFFSET)
    assert band_centres(P)[17] == 1000.0
    assert band_centres(P)[[0, 28]] == pytest.approx([19.953, 12589.25], rel=1e-4)  # "20 Hz - 12.5 kHz"
    lo, hi = band_edges(P)
    assert hi / lo == pytest.approx(np.full(29, 10**0.1)) and lo[1:] == pytest.approx(hi[:-1])  # contiguous thirds


def test_window_is_energy_corrected_tukey_0_2() -> None:
    w = tukey_window(P)
    assert w.shape == (N,) and np.mean(w**2) == pytest.approx(1.0)
    assert w == pytest.approx(literal_tukey(), abs=1e-12)
    assert w[0] == 0 and w[-1] == 0  # symmetric: both ends at zero
    assert np.sum(w == w.max()) == pytest.approx(N * (1 - ALPHA), abs=2)  # flat over 80 % of the frame


def test_parseval_weights_halve_only_dc_and_nyquist() -> None:
    assert band_weights(P) == pytest.approx(band_matrix(P) * 2 / N**2)  # neither DC nor 16 kHz is in a band
    # a layout where the top band reaches Nyquist: that bin has no negative-frequency twin
    even = ThirdOctaveParams(sample_rate=2000, frame=64)  # bins 31.25 Hz apart, Nyquist 1 kHz in band 17
    m, wts = band_matrix(even), band_weights(even)
    assert m[17].nonzero()[0].tolist() == [29, 30, 31, 32] and m[2].nonzero()[0].tolist() == [1]  # 31.25 Hz
    assert (wts[17, 29:33] * 64**2).tolist() == [2.0, 2.0, 2.0, 1.0]
    assert wts * 64**2 == pytest.approx(m * np.r_[np.full(32, 2.0), 1.0])  # every other bin counts twice
    odd = ThirdOctaveParams(sample_rate=2000, frame=63)  # odd length: the last bin is not Nyquist
    assert band_weights(odd) * 63**2 == pytest.approx(2 * band_matrix(odd))


@pytest.mark.parametrize("samples", [32000, 100, 35999])
def test_matches_the_literal_reference(samples: int) -> None:
    rng = np.random.default_rng(samples)
    t = np.arange(samples) / SR
    x = 0.05 * rng.standard_normal(samples) + 0.3 * np.sin(2 * np.pi * 250 * t) + 0.1 * np.sin(2 * np.pi * 5000 * t)
    ref = literal_levels(x)
    out32 = ThirdOctave()(torch.from_numpy(x).float()).numpy()
    out64 = ThirdOctave()(torch.from_numpy(x)).numpy()
    assert out32.shape == out64.shape == ref.shape == (max(1, samples // HOP), BANDS)
    assert np.abs(out32 - ref).max() < 0.01  # dB, float32
    assert out64.dtype == np.float64 and np.abs(out64 - ref).max() < 1e-3  # float64 stays float64


def test_silence_reads_the_floor() -> None:
    out = ThirdOctave()(torch.zeros(2, 8000)).numpy()
    assert np.all(out == -200.0 + OFFSET)


def test_a_click_shows_in_the_frames_that_cover_it() -> None:
    x = torch.zeros(6 * HOP)
    x[3 * HOP + 2000] = 1.0  # frame 3 covers [12000, 16096); frames 2 and 4 do not reach sample 14000
    loud = (ThirdOctave()(x)[:, 2:] > -100).any(dim=1)
    assert loud.tolist() == [False, False, False, True, False, False]
    x = torch.zeros(6 * HOP)
    x[3 * HOP + 50] = 1.0  # in the 96-sample overlap of frames 2 and 3 (both windows are tapered, not zero, there)
    assert (ThirdOctave()(x)[:, 2:] > -150).any(dim=1).tolist() == [False, False, True, True, False, False]


def test_integer_input_is_cast_not_rescaled() -> None:
    rng = np.random.default_rng(5)
    pcm = rng.integers(-3000, 3000, (2, 8000)).astype(np.int16)
    out = ThirdOctave()(torch.from_numpy(pcm))
    assert out.dtype == torch.float32
    assert torch.allclose(out, ThirdOctave()(torch.from_numpy(pcm.astype(np.float32))))
    # levels are of the raw sample values (no division by 32768): the caller scales PCM if it wants full scale 1
    assert np.abs(out[0].numpy() - literal_levels(pcm[0])).max() < 0.01


@pytest.mark.parametrize("shape", [(2, 3, 8000), (1, 1, 1, 4096), ()])
def test_other_ranks_are_refused(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match=r"expected \(batch, samples\)"):
        ThirdOctave()(torch.zeros(shape))
