"""The library writer: every label's clips in Scaper's layout, with a README (``build_sound_library``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm import tqdm

from soundflow.io import generated_folder
from tasks.datasets.sound_library import LIBRARY_LABELS
from tasks.procedural import urban_sounds
from tasks.procedural.checks import is_int
from tasks.procedural.readme import generator_readme
from tasks.procedural.sound_library.clips import (
    BACKGROUND_LABELS,
    DESCRIPTIONS,
    FOREGROUND_LABELS,
    render_background,
    render_foreground,
)

__all__ = ["LIBRARY_VERSION", "build_sound_library"]

LIBRARY_VERSION = "1"

_ROLES = ("foreground", "background")  # role_id = index (part of every clip's seed)
# The title marks a folder as this generator's output (generated_folder replaces only such folders) and the
# README's text is part of the library's bytes, which DVC hashes: both keep the wording they had when the
# generator was tasks/soundscapes/library.py, so earlier libraries stay replaceable and unchanged.
_README_TITLE = "# Procedural Scaper sound library (soundflow tasks.soundscapes.library)"


def _validate(
    clips_per_label: object, sample_rate: object, event_duration: object, background_duration: object, seed: object
) -> tuple[float, float, float]:
    if not is_int(clips_per_label) or clips_per_label < 1:  # type: ignore[operator]
        raise ValueError(f"clips_per_label must be an integer >= 1, got {clips_per_label!r}")
    if not is_int(sample_rate) or not 8000 <= sample_rate <= 192000:  # type: ignore[operator]
        raise ValueError(f"sample_rate must be an integer between 8000 and 192000 Hz, got {sample_rate!r}")
    try:
        lo, hi = (float(v) for v in event_duration)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise ValueError(f"event_duration must be a pair (lo, hi) of seconds, got {event_duration!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and 0 < lo <= hi):
        raise ValueError(f"event_duration must satisfy 0 < lo <= hi (seconds), got {event_duration!r}")
    if lo < 0.5:
        raise ValueError(f"event_duration lower bound must be >= 0.5 s (Scaper's loudness needs it), got {lo}")
    try:
        bg = float(background_duration)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise ValueError(f"background_duration must be a number of seconds, got {background_duration!r}") from None
    if not (np.isfinite(bg) and bg >= 1.0):
        raise ValueError(f"background_duration must be >= 1 s, got {background_duration!r}")
    if not is_int(seed) or seed < 0:  # type: ignore[operator]
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    return lo, hi, bg


def _file_stem(label: str) -> str:
    return label.replace(" ", "_")


def _readme_text(params: dict[str, object], clips_per_label: int) -> str:
    about = [
        "Sound library for Scaper (`Scaper(duration, fg_path=<this>/foreground, bg_path=<this>/background)`),",
        "with the labels of the original image-to-soundscape project. No recorded audio is involved: every",
        "clip is synthesised from a seeded signal model (see `tasks/soundscapes/library.py`; backgrounds and",
        "some events come from `tasks/datasets/urban_synth.py`). Files are mono 16-bit PCM wav.",
    ]
    labels = {"foreground": FOREGROUND_LABELS, "background": BACKGROUND_LABELS}
    table = ["", "| role | label | clips | content |", "|---|---|---|---|"]
    table += [f"| {r} | {x} | {clips_per_label} | {DESCRIPTIONS[(r, x)]} |" for r in _ROLES for x in labels[r]]
    seeding = [
        "Clip k of a label is rendered from `numpy.random.default_rng([seed, role_id, label_id, k])` with",
        "role_id 0 = foreground, 1 = background and label_id the label's index in",
        f"{list(LIBRARY_LABELS)}; foreground durations are drawn uniformly from `event_duration`, peak",
        f"{urban_sounds.EVENT_PEAK}; backgrounds last `background_duration` at RMS {urban_sounds.BACKGROUND_RMS}.",
        "Re-running the generator with the same parameters reproduces these files byte for byte.",
    ]
    generator = (
        f"`tasks.soundscapes.library.build_sound_library` (library version {LIBRARY_VERSION},"
        f" urban_synth model version {urban_sounds.GENERATOR_VERSION})"
    )
    return generator_readme(_README_TITLE, about, generator, params, table, seeding)


def build_sound_library(
    out_dir: Path,
    *,
    clips_per_label: int,
    sample_rate: int = 22050,
    event_duration: tuple[float, float] = (2.0, 6.0),
    background_duration: float = 30.0,
    seed: int = 0,
    progress: bool = True,
) -> Path:
    """Write a procedural Scaper sound library to ``out_dir`` and return ``out_dir``.

    Foreground labels: ``FOREGROUND_LABELS`` (bicycle, bus, car, motorcycle, person, traffic light,
    train, truck); background labels: ``BACKGROUND_LABELS`` (road = street traffic, vegetation =
    park, person = crowd). The library is built in a sibling temporary folder and swapped into place
    with renames, so an interrupted run never leaves a complete-looking library.

    Args:
        out_dir: library root; an earlier output of this function there is replaced.
        clips_per_label: clips per label and role (>= 1).
        sample_rate: sample rate of the wav files (8000..192000 Hz).
        event_duration: (lo, hi) foreground clip duration in seconds, drawn uniformly; 0.5 <= lo <= hi.
            Scaper cannot make an event longer than its source clip, so soundscapes asking for
            longer events (12-16 s by default, docs/methods.md#scaper) get the whole clip instead.
        background_duration: background clip duration in seconds (>= 1); Scaper soundscapes need
            backgrounds at least as long as the soundscape (30 s by default).
        seed: base seed (non-negative integer).
        progress: show a tqdm progress bar.

    Raises:
        ValueError: naming the offending argument when an argument is invalid.
        FileExistsError: if ``out_dir`` exists, is not empty and was not written by this function.
    """
    ev_lo, ev_hi, bg_dur = _validate(clips_per_label, sample_rate, event_duration, background_duration, seed)
    out_dir = Path(out_dir)
    sr = int(sample_rate)
    jobs = [("foreground", label, k) for label in FOREGROUND_LABELS for k in range(clips_per_label)]
    jobs += [("background", label, k) for label in BACKGROUND_LABELS for k in range(clips_per_label)]
    with generated_folder(out_dir, _README_TITLE, "tasks.procedural.sound_library.build_sound_library") as tmp:
        for role, label, k in tqdm(jobs, desc="sound library", unit="clip", disable=not progress):
            rng = np.random.default_rng([int(seed), _ROLES.index(role), LIBRARY_LABELS.index(label), k])
            if role == "foreground":
                audio = render_foreground(label, float(rng.uniform(ev_lo, ev_hi)), sr, rng)
            else:
                audio = render_background(label, bg_dur, sr, rng)
            folder = tmp / role / label
            folder.mkdir(parents=True, exist_ok=True)
            sf.write(folder / f"{_file_stem(label)}_{k:03d}.wav", audio, sr, subtype="PCM_16", format="WAV")
        params = {
            "clips_per_label": clips_per_label,
            "sample_rate": sr,
            "event_duration": (ev_lo, ev_hi),
            "background_duration": bg_dur,
            "seed": int(seed),
        }
        (tmp / "README.md").write_text(_readme_text(params, clips_per_label), encoding="utf-8")
    return out_dir
