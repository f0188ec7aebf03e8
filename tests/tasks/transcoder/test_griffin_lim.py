"""Griffin-Lim of a linear Mel: the CPU backend is librosa's, the torch backend converges as far."""

from __future__ import annotations

import librosa
import numpy as np
import pytest
import torch

from tasks.features.logmel import PRESETS, LogMel, LogMelParams, frame_samples
from tasks.transcoder.audio import linear_mel
from tasks.transcoder.griffin_lim import griffin_lim

CPU = torch.device("cpu")


def _chirp_and_tone(p: LogMelParams, seconds: float = 0.5) -> np.ndarray:
    t = np.arange(int(p.sample_rate * seconds)) / p.sample_rate
    return (0.3 * np.sin(2 * np.pi * (300 + 1500 * t) * t) + 0.2 * np.sin(2 * np.pi * 2200 * t)).astype(np.float32)


def _mel(p: LogMelParams, wave: np.ndarray) -> np.ndarray:
    return linear_mel(LogMel(p)(torch.from_numpy(wave.astype(np.float32))).numpy(), p)


def _spectral_convergence(p: LogMelParams, wave: np.ndarray, target: np.ndarray) -> float:
    """||Mel(wave) - target|| / ||target|| (Frobenius), on the frames both have."""
    mel = _mel(p, wave)
    n = min(mel.shape[1], target.shape[1])
    return float(np.linalg.norm(mel[:, :n] - target[:, :n]) / np.linalg.norm(target[:, :n]))


def test_on_the_cpu_it_is_librosas_mel_to_audio_with_a_seed(one_torch_thread: None) -> None:
    p = PRESETS["pann"]
    mel = _mel(p, _chirp_and_tone(p, 0.25))
    stft = librosa.feature.inverse.mel_to_stft(
        mel, sr=p.sample_rate, n_fft=p.n_fft, power=p.power, fmin=p.fmin, fmax=p.fmax, htk=False, norm="slaney"
    )
    expected = librosa.griffinlim(
        stft, n_iter=4, hop_length=p.hop_length, win_length=p.win_length, n_fft=p.n_fft, random_state=3
    )
    np.testing.assert_allclose(griffin_lim(mel, p, 4, CPU, seed=3), expected, atol=1e-5)


@pytest.mark.parametrize("backend", ["librosa", "torch"])
def test_a_seed_gives_the_same_audio_again(backend: str, one_torch_thread: None) -> None:
    p = PRESETS["t2a"]
    mel = _mel(p, _chirp_and_tone(p, 0.25))
    first, again, other = (griffin_lim(mel, p, 2, CPU, backend=backend, seed=s) for s in (0, 0, 1))
    assert np.array_equal(first, again) and not np.allclose(first, other)


@pytest.mark.parametrize("preset", ["pann", "yamnet"])  # centred librosa front end; non-centred tf one
def test_the_torch_backend_converges_as_far_as_librosa(preset: str, one_torch_thread: None) -> None:
    p = PRESETS[preset]
    clip = _chirp_and_tone(p)
    mel = _mel(p, clip)
    sc = {
        (backend, n_iter): _spectral_convergence(p, griffin_lim(mel, p, n_iter, CPU, backend=backend), mel)
        for backend in ("librosa", "torch")
        for n_iter in (1, 16)
    }
    assert sc["librosa", 16] < 0.2 and sc["torch", 16] < 0.2, sc  # measured: 0.09-0.17
    assert sc["librosa", 16] < sc["librosa", 1] and sc["torch", 16] < sc["torch", 1], sc
    wave = griffin_lim(mel, p, 1, CPU, backend="torch")  # up to the centre of the last frame
    assert len(clip) - frame_samples(p) <= len(wave) <= len(clip)
