"""Text-to-audio generators behind one interface: (clip requests, seconds, sample rate) -> waveforms.

A :class:`ClipRequest` carries the clip's class, its prompt and its seed; a generator turns a batch of
them into one float32 waveform each, ``round(seconds * sample_rate)`` samples long. The seed belongs to
the clip (:func:`clip_seed`: a hash of the base seed, the prompt and the clip's index), so a clip is the
same whichever batch it falls in and a rerun regenerates it identically.

Generators:

- ``audioldm2``: diffusers' AudioLDM2 pipeline (:mod:`tasks.text_to_audio.audioldm2`; Liu et al. 2024);
- ``audiogen``: AudioCraft's AudioGen (Kreuk et al., ICLR 2023) cannot be installed beside this project's
  torch (see the README); asking for it raises a clear error;
- ``procedural``: a stand-in for demos and tests, *not* a generative model: it ignores the prompt's words
  and renders the class's signal model of :mod:`tasks.procedural.urban_sounds` over a street background.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from tasks.procedural.urban_sounds import CLASSES, render_clip
from tasks.text_to_audio.params import GenerateParams


@dataclass(frozen=True)
class ClipRequest:
    label: str
    prompt: str
    index: int  # the clip's index within its class
    seed: int


def clip_seed(base_seed: int, prompt: str, index: int) -> int:
    """A 63-bit seed of (base seed, prompt, index): the same clip always gets the same noise."""
    digest = hashlib.sha256(f"{base_seed}\x00{prompt}\x00{index}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


class Generator(Protocol):
    name: str

    def identity(self) -> dict[str, object]:
        """What changes the generated audio (a folder generated with other values is regenerated)."""

    def generate(self, requests: list[ClipRequest], seconds: float, sample_rate: int) -> list[np.ndarray]:
        """One float32 waveform of ``round(seconds * sample_rate)`` samples per request."""


def fit_samples(wave: np.ndarray, n: int) -> np.ndarray:
    """Crop or zero-pad at the end to ``n`` samples."""
    wave = np.asarray(wave, dtype=np.float32).reshape(-1)
    return wave[:n] if len(wave) >= n else np.pad(wave, (0, n - len(wave)))


class ProceduralGenerator:
    """The stand-in: the class's procedural signal model over a street background (no text understanding)."""

    name = "procedural"

    def __init__(self, snr_db: tuple[float, float]) -> None:
        self.snr_db = (float(snr_db[0]), float(snr_db[1]))

    def identity(self) -> dict[str, object]:
        return {"generator": self.name, "snr_db": list(self.snr_db)}

    def generate(self, requests: list[ClipRequest], seconds: float, sample_rate: int) -> list[np.ndarray]:
        out = []
        for r in requests:
            if r.label not in CLASSES:
                raise ValueError(f"the procedural generator has no signal model of class {r.label!r}")
            rng = np.random.default_rng(r.seed)
            snr = rng.uniform(*self.snr_db)
            wave = render_clip(r.label, seconds, sample_rate, snr, rng)
            out.append(fit_samples(wave, round(seconds * sample_rate)))
        return out


AUDIOGEN_CONFLICT = (
    "the audiogen generator needs AudioCraft, which cannot be installed beside this project's torch: audiocraft "
    "pins torch==2.1.0 (this project runs torch==2.14.1), and audiocraft 1.3.0 also pins av==11.0.0, which has no "
    "wheel here and builds only against FFmpeg's development libraries; a separate environment resolves only to "
    "audiocraft 1.2.0 with torch 2.1.0 and its CUDA 12.1 libraries (about 2.5 GB) and was not installed; see the "
    "README, workflow 5"
)


def make_generator(p: GenerateParams) -> Generator:
    """The generator ``p.generator`` names, configured from ``p``."""
    if p.generator == "procedural":
        return ProceduralGenerator(p.procedural.snr_db)
    if p.generator == "audioldm2":
        from tasks.text_to_audio.audioldm2 import AudioLdm2Generator

        a = p.audioldm2
        return AudioLdm2Generator(a.model, a.steps, a.guidance_scale, p.negative_prompt, a.device)
    raise RuntimeError(AUDIOGEN_CONFLICT)
