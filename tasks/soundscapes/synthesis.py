"""Image -> soundscape synthesis with Scaper (Salamon et al., 2017; docs/methods.md#scaper).

The classes found by the segmentation model in an image choose the sounds of its soundscapes:

- a class is *present* if it covers more than 0 and at least ``min_pixel_fraction`` of the image;
- the *background* is the present class with the most pixels whose mapped background sound is in
  the library; the *foreground* labels are those of every other present class with a foreground
  sound in the library (``configs/soundscape_mapping.yaml`` maps classes to library labels);
- classes without a sound are skipped; if no present class maps to a sound, no audio is written and
  a ``<stem>_soundscape_note.txt`` says why (the original silently fell back to all labels).

Every image gets ``soundscapes_per_image`` soundscapes ``<stem>_soundscape_<n>.wav`` (n from 0) with
their Scaper JAMS annotation (``.jams``) and a plain-text event list (``.txt``: onset, offset, label,
tab-separated, one foreground event per line). Soundscape ``n`` of an image is generated with
``numpy.random.RandomState(seed_for(params.seed, stem, n))``, a hash of the three, so it does not
depend on the other images or on the order they are processed in.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import re
import warnings
from collections.abc import Mapping as AbcMapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import soundfile as sf

from soundflow.io import atomic_path
from tasks.datasets.cityscapes import TRAIN_CLASSES
from tasks.datasets.sound_library import library_labels
from tasks.soundscapes.mapping import ROLES, ClassSounds, SoundMapping, as_mapping, load_mapping, suggest
from tasks.soundscapes.params import SoundscapeParams

__all__ = [
    "ClassSounds",
    "ImageResult",
    "SoundMapping",
    "SoundscapeParams",
    "choose_labels",
    "load_mapping",
    "seed_for",
    "synthesize_all",
    "synthesize_for_image",
    "synthesize_image",
]

# Scaper warnings that are the expected path with the default settings, not problems: a background
# at ref_db -3 LUFS with events 3-5 dB above it peaks around +15..+25 dBFS before peak normalisation,
# so the mix always "clips" and the normalisation factor is often below Scaper's 0.05 alarm level.
# Normalisation scales every source alike (SNRs are kept) and the wav is 32-bit PCM, so nothing is
# lost; the factor is in the JAMS sandbox (scaper.peak_normalization_scale_factor).
_EXPECTED_WARNINGS = (
    "Soundscape audio is clipping",
    "Peak normalization applied to fix clipping",
    "Scale factor for peak normalization is extreme",
)


# --------------------------------------------------------------------------- #
# Parameters                                                                  #
# --------------------------------------------------------------------------- #


# SoundscapeParams (the ``soundscapes.synthesis`` section) lives in tasks.soundscapes.params.


def seed_for(seed: int, image_stem: str, n: int) -> int:
    """Scaper seed of soundscape ``n`` of an image: a stable 32-bit hash of (seed, stem, n)."""
    digest = hashlib.sha256(f"{int(seed)}\0{image_stem}\0{int(n)}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


# --------------------------------------------------------------------------- #
# Class -> sound mapping                                                      #
# --------------------------------------------------------------------------- #


# --------------------------------------------------------------------------- #
# Label choice                                                                #
# --------------------------------------------------------------------------- #


def _check_fractions(fractions: AbcMapping[str, float]) -> dict[str, float]:
    out: dict[str, float] = {}
    for name, value in fractions.items():
        if name not in TRAIN_CLASSES:
            raise ValueError(
                f"fractions: unknown class {name!r}{suggest(str(name), TRAIN_CLASSES)}; "
                f"expected names from {list(TRAIN_CLASSES)}"
            )
        try:
            f = float(value)
        except (TypeError, ValueError):
            raise ValueError(f"fractions: {name!r} must be a number, got {value!r}") from None
        if not (math.isfinite(f) and 0.0 <= f <= 1.0 + 1e-6):
            raise ValueError(f"fractions: {name!r} must be a pixel fraction in [0, 1], got {value!r}")
        out[name] = f
    return out


def choose_labels(
    fractions: AbcMapping[str, float],
    mapping: SoundMapping | AbcMapping[str, Any],
    library_labels: AbcMapping[str, Sequence[str]],
    min_pixel_fraction: float = 0.0,
) -> tuple[str | None, list[str], list[str]]:
    """Pick the soundscape's background and foreground labels from an image's class pixel fractions.

    Args:
        fractions: class name -> fraction of the image's pixels (classes left out count as 0).
        mapping: class -> sounds (``load_mapping``), or a plain ``{class: {"foreground": ..., ...}}``.
        library_labels: ``{"foreground": [...], "background": [...]}`` actually in the library.
        min_pixel_fraction: a class is present if its fraction is > 0 and >= this.

    Returns:
        (background label or None, foreground labels ordered by pixel count, notes). The background
        is the present class with the most pixels whose background sound is in the library;
        foreground labels come from every other present class with a foreground sound in the
        library (duplicates merged). Notes are sentences on skipped classes and missing sounds;
        when no present class maps to a sound, the labels are (None, []) and a note says so.
    """
    fr = _check_fractions(fractions)
    sounds = as_mapping(mapping)
    available = {role: set(library_labels.get(role, [])) for role in ROLES}
    order = {c: i for i, c in enumerate(TRAIN_CLASSES)}
    present = sorted(
        (c for c, f in fr.items() if f > 0.0 and f >= min_pixel_fraction), key=lambda c: (-fr[c], order[c])
    )
    notes: list[str] = []
    if not present:
        least = "any pixel" if min_pixel_fraction <= 0 else f"at least {min_pixel_fraction:g} of the image"
        return None, [], [f"No class covers {least}: no soundscape generated."]

    missing = []
    for c in present:
        for role in ROLES:
            label = getattr(sounds[c], role)
            if label is not None and label not in available[role]:
                missing.append(f"{c} -> {role} {label!r}")
    if missing:
        notes.append(f"Mapped sounds missing from the library, skipped: {', '.join(missing)}.")

    background_class = next(
        (c for c in present if sounds[c].background is not None and sounds[c].background in available["background"]),
        None,
    )
    background = sounds[background_class].background if background_class else None
    foreground: list[str] = []
    unused_background: list[str] = []
    silent: list[str] = []
    for c in present:
        if c == background_class:
            continue
        label = sounds[c].foreground
        if label is not None and label in available["foreground"]:
            if label not in foreground:
                foreground.append(label)
        elif sounds[c].background is not None and sounds[c].background in available["background"]:
            unused_background.append(c)
        else:
            silent.append(c)
    if background is None and not foreground:
        notes.append(
            f"No present class maps to a sound in the library (present: {', '.join(present)}): no soundscape generated."
        )
        return None, [], notes
    if silent:
        notes.append(f"Present classes without a sound, skipped: {', '.join(silent)}.")
    if unused_background:
        notes.append(
            f"Background sounds of smaller classes not used (one background per soundscape): "
            f"{', '.join(unused_background)}."
        )
    if background is None:
        notes.append("No present class has a background sound: events over silence.")
    if not foreground:
        notes.append(f"No present class has a foreground sound: background ({background}) only.")
    return background, foreground, notes


# --------------------------------------------------------------------------- #
# Synthesis                                                                   #
# --------------------------------------------------------------------------- #


@dataclasses.dataclass(frozen=True)
class ImageResult:
    """What ``synthesize_image`` did for one image."""

    image_stem: str
    wav_paths: list[Path]
    background: str | None
    foreground: list[str]
    notes: list[str]
    note_path: Path | None = None


def _audio_files(folder: Path) -> list[Path]:
    return sorted(f for f in folder.iterdir() if f.is_file() and not f.name.startswith("."))


def _library_sample_rate(library: Path, labels: AbcMapping[str, Sequence[str]]) -> int:
    rates = {
        sf.info(str(f)).samplerate
        for role in ROLES
        for label in labels[role]
        for f in _audio_files(library / role / label)
    }
    if len(rates) != 1:
        raise ValueError(
            f"sound library {str(library)!r} mixes sample rates {sorted(rates)}; set SoundscapeParams.sample_rate"
        )
    return rates.pop()


def _background_source_time(library: Path, label: str, params: SoundscapeParams) -> tuple:
    """Scaper source-time distribution for the background: normal(mean, sd) clipped to the valid starts.

    Scaper reads ``duration`` seconds of the background from the source time on; starts past
    ``clip length - duration`` are invalid (Scaper would move them and warn), so the normal is
    truncated to [0, shortest clip - duration] (constant 0 when the clips are exactly that long).
    """
    files = _audio_files(library / "background" / label)
    lengths = {f.name: sf.info(str(f)).frames / sf.info(str(f)).samplerate for f in files}
    short = {k: v for k, v in lengths.items() if v + 1e-6 < params.duration}
    if short:
        raise ValueError(
            f"background clips of {label!r} in {str(library)!r} are shorter than the soundscape duration "
            f"({params.duration:g} s): {', '.join(f'{k} ({v:.2f} s)' for k, v in sorted(short.items()))}; "
            "rebuild the library with a longer background_duration or use a shorter duration"
        )
    latest = min(lengths.values()) - params.duration
    mean, sd = params.bg_source_time
    if latest <= 1e-3 or sd == 0:
        return ("const", float(min(max(mean, 0.0), max(latest, 0.0))))
    return ("truncnorm", mean, sd, 0.0, float(latest))


def _stale_outputs(out_dir: Path, stem: str, keep: set[str]) -> list[Path]:
    pattern = re.compile(re.escape(stem) + r"_soundscape_(\d+\.(wav|jams|txt)|note\.txt)$")
    return [p for p in out_dir.iterdir() if pattern.match(p.name) and p.name not in keep]


def _write_note(path: Path, stem: str, notes: list[str], fractions: AbcMapping[str, float]) -> None:
    present = ", ".join(f"{c} {f:.4f}" for c, f in sorted(fractions.items(), key=lambda kv: -kv[1]) if f > 0)
    text = "\n".join([f"No soundscape for image {stem!r}.", *notes, f"Class pixel fractions: {present or 'none'}.", ""])
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def _generate_one(
    stem: str,
    n: int,
    background: str | None,
    foreground: list[str],
    library: Path,
    out_dir: Path,
    params: SoundscapeParams,
    sr: int,
    bg_source_time: tuple | None,
) -> tuple[Path, int, int]:
    """Generate soundscape ``n``; returns (wav path, number of events, number of events shortened)."""
    seed = seed_for(params.seed, stem, n)
    sc, n_events = _scaper_for(seed, background, foreground, library, params, sr, bg_source_time)
    name = f"{stem}_soundscape_{n}"
    final = {ext: out_dir / f"{name}.{ext}" for ext in ("wav", "jams", "txt")}
    # Scaper writes the wav itself (soundfile needs a .wav suffix): give it a hidden temporary name.
    tmp_wav = out_dir / f".{name}.tmp-{os.getpid()}.wav"
    try:
        jam, events = _run_scaper(sc, tmp_wav, params)
        _fix_length(tmp_wav, int(params.duration * sr))
        ann = jam.annotations.search(namespace="scaper")[0]
        shortened = _events_shortened_to_source(ann, params)
        _record_final_paths(ann, final)
        ann.sandbox.soundflow = {
            "image": stem,
            "soundscape": n,
            "seed": seed,
            "background": background,
            "foreground_labels": list(foreground),
            "events_shortened_to_source": shortened,
        }
        jam.file_metadata.title = name
        with atomic_path(final["txt"]) as tmp:
            tmp.write_text("".join(f"{on:.6f}\t{off:.6f}\t{label}\n" for on, off, label in events), encoding="utf-8")
        with atomic_path(final["jams"]) as tmp:
            jam.save(str(tmp), fmt="jams")
        os.replace(tmp_wav, final["wav"])  # last: a wav is only ever there with its jams and txt
    finally:
        tmp_wav.unlink(missing_ok=True)
    return final["wav"], n_events, shortened


def _scaper_for(
    seed: int,
    background: str | None,
    foreground: list[str],
    library: Path,
    params: SoundscapeParams,
    sr: int,
    bg_source_time: tuple | None,
) -> tuple[Any, int]:
    """A Scaper soundscape specification: the background and the foreground events (Scaper, number of events).

    The number of events is drawn from ``seed`` first; Scaper then draws everything else (files,
    times, durations, SNRs) from the same RandomState, so the seed fixes the whole soundscape.
    """
    import scaper  # imported lazily: it pulls in sox bindings and is only needed here

    rs = np.random.RandomState(seed)
    n_events = int(rs.randint(params.n_events[0], params.n_events[1] + 1)) if foreground else 0
    sc = scaper.Scaper(params.duration, str(library / "foreground"), str(library / "background"), random_state=rs)
    sc.ref_db = params.ref_db
    sc.sr = sr
    if background is not None:
        sc.add_background(label=("const", background), source_file=("choose", []), source_time=bg_source_time)
    for _ in range(n_events):
        sc.add_event(
            label=("choose", list(foreground)),
            source_file=("choose", []),
            source_time=("const", params.source_time),
            event_time=("truncnorm", params.event_time[0], params.event_time[1], 0.0, params.duration),
            event_duration=("uniform", *params.event_duration),
            snr=("uniform", *params.snr),
            pitch_shift=("uniform", *params.pitch_shift_range) if params.pitch_shift else None,
            time_stretch=("uniform", *params.time_stretch_range) if params.time_stretch else None,
        )
    return sc, n_events


def _run_scaper(sc: Any, wav: Path, params: SoundscapeParams) -> tuple[Any, list]:
    """Write the soundscape's audio to ``wav``; returns (JAMS annotation, foreground event list).

    Scaper's warnings that are expected with these settings (``_EXPECTED_WARNINGS``) are dropped, any
    other is passed on.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, jam, events, _ = sc.generate(
            audio_path=str(wav),
            jams_path=None,  # written by the caller, once its recorded paths are the final ones
            allow_repeated_label=True,
            allow_repeated_source=True,
            reverb=params.reverb,
            fix_clipping=True,
            peak_normalization=params.peak_normalization,
            disable_sox_warnings=True,
            txt_path=None,  # written by the caller from the annotation, with the same format
            disable_instantiation_warnings=True,
        )
    for w in caught:
        if not any(str(w.message).startswith(m) for m in _EXPECTED_WARNINGS):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return jam, events


def _fix_length(wav: Path, frames: int) -> None:
    """Cut or zero-pad ``wav`` to ``frames`` samples: exactly `duration` seconds per soundscape, whatever
    length change sox's reverb makes."""
    info = sf.info(str(wav))
    if info.frames != frames:
        audio, file_sr = sf.read(str(wav), always_2d=True, dtype="float64")
        audio = np.pad(audio[:frames], ((0, max(0, frames - audio.shape[0])), (0, 0)))
        sf.write(str(wav), audio, file_sr, subtype="PCM_32", format="WAV")


def _events_shortened_to_source(ann: Any, params: SoundscapeParams) -> int:
    """Foreground events shorter than the drawn duration because their source clip is shorter.

    Scaper caps an event at its source clip's length (silently: instantiation warnings are off).
    """
    return sum(
        1
        for obs in ann.data
        if obs.value["role"] == "foreground"
        and obs.value["event_duration"] < params.event_duration[0] - 1e-6
        and abs(obs.value["event_duration"] - sf.info(obs.value["source_file"]).duration) < 1e-6
    )


def _record_final_paths(ann: Any, final: dict[str, Path]) -> None:
    """Point the annotation at the final wav, jams and txt (Scaper recorded the temporary wav)."""
    ann.sandbox.scaper.audio_path = str(final["wav"])
    ann.sandbox.scaper.soundscape_audio_path = str(final["wav"])
    ann.sandbox.scaper.jams_path = str(final["jams"])
    ann.sandbox.scaper.txt_path = str(final["txt"])
    ann.sandbox.scaper.txt_sep = "\t"


def synthesize_image(
    image_stem: str,
    fractions: AbcMapping[str, float],
    mapping: SoundMapping | AbcMapping[str, Any],
    library: Path,
    out_dir: Path,
    params: SoundscapeParams = SoundscapeParams(),
) -> ImageResult:
    """``synthesize_for_image`` returning the chosen labels and notes too (see there)."""
    if not isinstance(image_stem, str) or not image_stem or "/" in image_stem or image_stem in (".", ".."):
        raise ValueError(f"image_stem must be a file-name stem, got {image_stem!r}")
    if not isinstance(params, SoundscapeParams):
        raise ValueError(f"params must be a SoundscapeParams, got {type(params).__name__}")
    library, out_dir = Path(library), Path(out_dir)
    labels = library_labels(library)
    background, foreground, notes = choose_labels(fractions, mapping, labels, params.min_pixel_fraction)
    out_dir.mkdir(parents=True, exist_ok=True)
    note_path = out_dir / f"{image_stem}_soundscape_note.txt"

    if background is None and not foreground:
        _write_note(note_path, image_stem, notes, _check_fractions(fractions))
        for stale in _stale_outputs(out_dir, image_stem, keep={note_path.name}):
            stale.unlink()
        return ImageResult(image_stem, [], None, [], notes, note_path)

    sr = params.sample_rate or _library_sample_rate(library, labels)
    bg_source_time = _background_source_time(library, background, params) if background else None
    wavs: list[Path] = []
    n_events = n_short = 0
    for n in range(params.soundscapes_per_image):
        wav, k, short = _generate_one(
            image_stem, n, background, foreground, library, out_dir, params, sr, bg_source_time
        )
        wavs.append(wav)
        n_events += k
        n_short += short
    if n_short:
        notes.append(
            f"{n_short} of {n_events} events are shorter than the drawn {params.event_duration[0]:g}-"
            f"{params.event_duration[1]:g} s: Scaper caps an event at its source clip's length."
        )
    keep = {p.name for w in wavs for p in (w, w.with_suffix(".jams"), w.with_suffix(".txt"))}
    for stale in _stale_outputs(out_dir, image_stem, keep=keep):
        stale.unlink()
    return ImageResult(image_stem, wavs, background, foreground, notes)


def synthesize_for_image(
    image_stem: str,
    fractions: AbcMapping[str, float],
    mapping: SoundMapping | AbcMapping[str, Any],
    library: Path,
    out_dir: Path,
    params: SoundscapeParams = SoundscapeParams(),
) -> list[Path]:
    """Synthesise the soundscapes of one image and return their wav paths.

    Writes ``<stem>_soundscape_<n>.wav`` (n = 0 .. soundscapes_per_image - 1, mono 32-bit PCM at the
    library's sample rate, exactly ``duration`` seconds) with ``.jams`` (Scaper annotation; the
    ``soundflow`` sandbox records image, seed and chosen labels) and ``.txt`` (onset, offset, label
    of each foreground event, tab-separated) next to it, each file written atomically. Earlier
    outputs for the same stem that this run does not rewrite are removed.

    If no present class maps to a sound, writes ``<stem>_soundscape_note.txt`` saying why, no audio,
    and returns an empty list.

    Raises:
        ValueError: invalid arguments, unknown class names in ``fractions``, or background clips
            shorter than ``params.duration``.
    """
    return synthesize_image(image_stem, fractions, mapping, library, out_dir, params).wav_paths


SUMMARY_COLUMNS = ("image", "n_soundscapes", "background", "foreground", "note")


def synthesize_all(
    fractions_csv: Path,
    mapping_path: Path,
    library: Path,
    out_dir: Path,
    params: SoundscapeParams = SoundscapeParams(),
) -> pd.DataFrame:
    """Synthesise soundscapes for every image of a pixel-fraction table.

    Args:
        fractions_csv: one row per image: an ``image`` column (image path; outputs are named after
            its stem) and one column per class name with its pixel fraction (missing classes = 0).
        mapping_path: class -> sound mapping YAML, validated against the library's labels.
        library: Scaper sound library (``build_sound_library``).
        out_dir: output folder.
        params: soundscape parameters.

    Returns:
        Summary with columns image, n_soundscapes, background, foreground (labels joined by ';'),
        note (sentences), also written to ``out_dir/summary.csv``.

    Raises:
        ValueError: naming the CSV and the column/row for unknown class columns, missing ``image``
            column, bad fractions or two images with the same stem.
    """
    fractions_csv, library, out_dir = Path(fractions_csv), Path(library), Path(out_dir)
    mapping = load_mapping(mapping_path, library_labels(library))
    table = pd.read_csv(fractions_csv)
    if "image" not in table.columns:
        raise ValueError(f"{fractions_csv}: no 'image' column (columns: {list(table.columns)})")
    class_cols = [c for c in table.columns if c != "image"]
    for c in class_cols:
        if c not in TRAIN_CLASSES:
            raise ValueError(
                f"{fractions_csv}: column {c!r} is not a segmentation class{suggest(str(c), TRAIN_CLASSES)}"
            )
    stems = [Path(str(p)).stem for p in table["image"]]
    dupes = sorted({s for s in stems if stems.count(s) > 1})
    if dupes:
        raise ValueError(f"{fractions_csv}: several images share the stem(s) {dupes}; their outputs would collide")
    rows = []
    for i, (image, stem) in enumerate(zip(table["image"], stems)):
        fractions = {}
        for c in class_cols:
            value = table.at[i, c]
            if pd.isna(value):
                raise ValueError(f"{fractions_csv}: row {i + 2} ({image}): {c!r} is empty")
            fractions[c] = value
        try:
            result = synthesize_image(stem, fractions, mapping, library, out_dir, params)
        except ValueError as exc:
            raise ValueError(f"{fractions_csv}: row {i + 2} ({image}): {exc}") from None
        rows.append(
            {
                "image": str(image),
                "n_soundscapes": len(result.wav_paths),
                "background": result.background or "",
                "foreground": ";".join(result.foreground),
                "note": " ".join(result.notes),
            }
        )
    summary = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    out_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(out_dir / "summary.csv") as tmp:
        summary.to_csv(tmp, index=False)
    return summary
