"""Audio back from spectra: a tone through Griffin-Lim (both backends), and the CLI command."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from soundflow.pipeline.cli import app
from soundflow.pipeline.cli.predict import cmd_transcode_audio
from tasks.features.logmel import PRESETS, LogMel
from tasks.transcoder.audio import linear_mel
from tasks.transcoder.griffin_lim import griffin_lim

P = PRESETS["pann"]


def _tone_logmel(freq: float) -> np.ndarray:
    t = np.arange(P.sample_rate) / P.sample_rate
    return LogMel(P)(torch.from_numpy((0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32))).numpy()


@pytest.mark.parametrize("invert", ["librosa", "torch"])
def test_griffin_lim_brings_back_a_tone_at_its_frequency(invert: str, one_torch_thread: None) -> None:
    mel = linear_mel(_tone_logmel(1000.0), P)
    wave = griffin_lim(mel, P, 8, torch.device("cpu"), backend=invert)
    spectrum = np.abs(np.fft.rfft(wave))
    peak = np.fft.rfftfreq(len(wave), 1 / P.sample_rate)[np.argmax(spectrum)]
    assert (
        abs(len(wave) - P.sample_rate) <= P.hop_length and abs(peak - 1000.0) < 60
    )  # one mel band is ~60 Hz wide here


def test_the_cli_has_the_transcode_audio_command() -> None:
    command, args = app.parse(["transcode-audio", "a.wav", "b.wav", "--out", "x"])
    assert command is cmd_transcode_audio and args.files == ["a.wav", "b.wav"] and args.out == "x"
    _, flow = app.parse(["run", "--flow", "transcoder"])
    assert flow.flow == "transcoder"
