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
    """Direct float64 implementation of docs/methods.md#third-octave-levels: loop over chunks, frames and bands."""
    chunk = p.chunk or max(len(x), 1)
    df = p.sample_rate / p.frame
    if p.tukey == "symmetric":
        w = scipy.signal.windows.tukey(p.frame, p.tukey_alpha)
    else:  # Cense: i / N in the cosine, the first int(alpha N / 2) samples rise, as many fall
        w, rise = np.ones(p.frame), int(p.tukey_alpha / 2 * p.frame)
        for i in range(rise):
            w[i] = 0.5 * (1 + np.cos(2 * np.pi / p.tukey_alpha * (i / p.frame - p.tukey_alpha / 2)))
            j = p.frame - rise + i
            w[j] = 0.5 * (1 + np.cos(2 * np.pi / p.tukey_alpha * (j / p.frame - 1 + p.tukey_alpha / 2)))
    w = w * np.sqrt(p.frame / np.sum(w**2))  # energy correction
    frames = []
    for start in range(0, max(len(x), 1), chunk):
        part = x[start : start + chunk]
        n = max(1, len(part) // p.hop)
        part = np.concatenate([part, np.zeros(max(0, (n - 1) * p.hop + p.frame - len(part)))])
        frames += [part[t * p.hop : t * p.hop + p.frame] for t in range(n)]
    frames = frames[: max(1, len(x) // p.hop)]
    out = np.zeros((len(frames), p.n_bands))
    for t, frame in enumerate(frames):
        spec = np.fft.fft(frame * w)  # two-sided
        for b in range(p.n_bands):
            fc = 1000 * 10 ** ((b - 17) / 10)
            lo, hi = fc * 10 ** (-1 / 20), fc * 10 ** (1 / 20)
            if p.bands == "half_open":
                bins = [k for k in range(p.frame // 2 + 1) if lo <= k * df < hi]
            else:
                bins = range(int(np.ceil(lo / df)), int(np.ceil(hi / df)) + 1)
            ms = 0.0
            for k in bins:
                ms += np.abs(spec[k]) ** 2 / p.frame**2
                if 0 < k < p.frame // 2:
                    ms += np.abs(spec[p.frame - k]) ** 2 / p.frame**2  # the negative-frequency twin
            out[t, b] = 10 * np.log10(max(ms, 1e-18)) + p.db_offset
    return out


HALF_OPEN = ThirdOctaveParams(bands="half_open", tukey="symmetric", chunk=None)  # the plain reading of the spec


def test_band_matrix() -> None:
    m = band_matrix(P)
    assert m.shape == (29, 2049)
    assert set(np.unique(m)) <= {0.0, 1.0}
    assert m[17, 128] == 1  # 1 kHz = bin 128 (7.8125 Hz bins)
    # Cense: bins ceil(lower / df) .. ceil(upper / df), both ends in; the shared edge bin counts in both bands
    assert m[17].nonzero()[0][[0, -1]].tolist() == [115, 144] and m[18].nonzero()[0][0] == 144
    assert m.sum(axis=0).max() == 2
    assert m[0].nonzero()[0].tolist() == [3] and m[1].nonzero()[0].tolist() == [3, 4]
    h = band_matrix(HALF_OPEN)
    assert h.sum(axis=0).max() == 1  # half-open masks do not overlap
    assert h[0].sum() == 0 and h[1].sum() == 1  # the lowest bands are (nearly) empty at this resolution
    assert h[17].nonzero()[0][[0, -1]].tolist() == [115, 143]


def test_matches_numpy_reference_half_open() -> None:
    rng = np.random.default_rng(1)
    x = 0.1 * rng.standard_normal(36000)
    out = ThirdOctave(HALF_OPEN)(torch.from_numpy(x)).numpy()
    ref = reference_levels(x, HALF_OPEN)
    finite = ref > -150  # band 0 is empty: both sit on the floor
    assert np.abs(out[finite] - ref[finite]).max() < 1e-6 and np.all(out[~finite] == ref[~finite])


def test_matches_numpy_reference() -> None:
    rng = np.random.default_rng(0)
    t = np.arange(32000) / 32000
    sigs = np.stack(
        [0.1 * rng.standard_normal(32000), 0.2 * np.sin(2 * np.pi * 440 * t) + 0.01 * rng.standard_normal(32000)]
    )
    out = ThirdOctave()(torch.from_numpy(sigs).float()).numpy()
    for i, s in enumerate(sigs):
        ref = reference_levels(s)
        assert np.abs(out[i] - ref).max() < 0.01  # dB, float32 vs float64


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


def literal_tukey(periodic: bool = True) -> np.ndarray:
    """Tukey (alpha 0.2) from its formula, scaled to mean(w ** 2) == 1: i / N (periodic, Cense's) or i / (N - 1)."""
    x = np.arange(N) / (N if periodic else N - 1)
    w = np.ones(N)
    rise, fall = x < ALPHA / 2, x > 1 - ALPHA / 2
    if periodic:  # Cense: exactly int(alpha N / 2) samples at each end
        rise, fall = np.arange(N) < int(ALPHA / 2 * N), np.arange(N) >= N - int(ALPHA / 2 * N)
    w[rise] = 0.5 * (1 + np.cos(2 * np.pi / ALPHA * (x[rise] - ALPHA / 2)))
    w[fall] = 0.5 * (1 + np.cos(2 * np.pi / ALPHA * (x[fall] - 1 + ALPHA / 2)))
    return w / np.sqrt(np.mean(w**2))


def literal_levels(x: np.ndarray) -> np.ndarray:
    """Levels from the literal constants: 1 s chunks, frames, window, one-sided Parseval sums, 10 log10 + 26 dB."""
    frames = max(1, len(x) // HOP)
    chunks = [np.asarray(x[i : i + SR], np.float64) for i in range(0, max(len(x), 1), SR)]
    padded = [np.concatenate([c, np.zeros(N)]) for c in chunks]
    freqs = np.arange(N // 2 + 1) * SR / N
    fc = 1000 * 10 ** ((np.arange(BANDS) - 17) / 10)
    first, last = np.ceil(fc * 10**-0.05 / (SR / N)), np.ceil(fc * 10**0.05 / (SR / N))
    masks = (np.arange(N // 2 + 1) >= first[:, None]) & (np.arange(N // 2 + 1) <= last[:, None])
    c = np.where((freqs == 0) | (freqs == SR / 2), 1.0, 2.0)
    w = literal_tukey()
    out = np.empty((frames, BANDS))
    for t in range(frames):
        k, s = divmod(t, SR // HOP)
        power = np.abs(np.fft.rfft(padded[k][s * HOP : s * HOP + N] * w)) ** 2 * c / N**2
        out[t] = 10 * np.log10(np.maximum(masks @ power, 1e-18)) + OFFSET
    return out


def test_defaults_are_the_spec_constants() -> None:
    assert (P.sample_rate, P.frame, P.hop, P.tukey_alpha, P.n_bands, P.db_offset) == (SR, N, HOP, ALPHA, BANDS, OFFSET)
    assert (P.bands, P.tukey, P.chunk) == ("cense", "periodic", SR)  # the authors' (Cense) levels, 1 s chunks
    assert band_centres(P)[17] == 1000.0
    assert band_centres(P)[[0, 28]] == pytest.approx([19.953, 12589.25], rel=1e-4)  # "20 Hz - 12.5 kHz"
    lo, hi = band_edges(P)
    assert hi / lo == pytest.approx(np.full(29, 10**0.1)) and lo[1:] == pytest.approx(hi[:-1])  # contiguous thirds


def test_window_is_energy_corrected_tukey_0_2() -> None:
    w = tukey_window(P)
    assert w.shape == (N,) and np.mean(w**2) == pytest.approx(1.0)
    assert w == pytest.approx(literal_tukey(), abs=1e-12)
    assert w[0] == 0 and 0 < w[-1] < 1e-4  # periodic: w[N] would be the zero
    assert np.sum(w == w.max()) == N - 2 * int(ALPHA / 2 * N)  # flat over 80 % of the frame
    sym = tukey_window(HALF_OPEN)
    assert sym == pytest.approx(literal_tukey(periodic=False), abs=1e-12) and sym[0] == sym[-1] == 0
    assert np.abs(sym - w).max() < 4e-3  # the two conventions differ only slightly in the tapers


def test_parseval_weights_halve_only_dc_and_nyquist() -> None:
    assert band_weights(P) == pytest.approx(band_matrix(P) * 2 / N**2)  # neither DC nor 16 kHz is in a band
    # a layout where the top band reaches Nyquist: that bin has no negative-frequency twin
    even = ThirdOctaveParams(
        sample_rate=2000, frame=64, bands="half_open", chunk=None
    )  # bins 31.25 Hz apart, Nyquist 1 kHz in band 17
    m, wts = band_matrix(even), band_weights(even)
    assert m[17].nonzero()[0].tolist() == [29, 30, 31, 32] and m[2].nonzero()[0].tolist() == [1]  # 31.25 Hz
    assert (wts[17, 29:33] * 64**2).tolist() == [2.0, 2.0, 2.0, 1.0]
    assert wts * 64**2 == pytest.approx(m * np.r_[np.full(32, 2.0), 1.0])  # every other bin counts twice
    odd = ThirdOctaveParams(
        sample_rate=2000, frame=63, bands="half_open", chunk=None
    )  # odd length: the last bin is not Nyquist
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
    assert np.all(out == -180.0 + OFFSET)  # an rms of 1e-9, as the Cense code floors it


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
