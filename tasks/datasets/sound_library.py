"""The Scaper sound-library format (Salamon et al., WASPAA 2017): its folder layout and the labels it holds.

Scaper reads a library from folders::

    <library>/foreground/<label>/*.wav     short sound events
    <library>/background/<label>/*.wav     long ambiences

and takes labels from the folder names. A library is either one the user brings or the procedural one
(:func:`tasks.procedural.sound_library.build_sound_library`), which has the original image-to-soundscape
project's labels (``LIBRARY_LABELS``); the soundscapes workflow (:mod:`tasks.soundscapes.synthesis`)
reads either.

Citation: J. Salamon, D. MacConnell, M. Cartwright, P. Li, J. P. Bello. Scaper: A Library for Soundscape
Synthesis and Augmentation. IEEE WASPAA 2017.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["LIBRARY_LABELS", "library_labels"]

LIBRARY_LABELS: tuple[str, ...] = (
    "bicycle",
    "bus",
    "car",
    "motorcycle",
    "person",
    "road",
    "traffic light",
    "train",
    "truck",
    "vegetation",
)  # the original project's sound-library labels; label_id = index (part of every procedural clip's seed)

_ROLES = ("foreground", "background")
_AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".aiff", ".aif", ".mp3"}


def library_labels(root: Path) -> dict[str, list[str]]:
    """Labels of a Scaper library, read from its folders: ``{"foreground": [...], "background": [...]}``.

    A label is a non-hidden subfolder of ``<root>/foreground`` or ``<root>/background`` holding at
    least one audio file (Scaper cannot draw from an empty folder). Labels are sorted.

    Raises:
        FileNotFoundError: if ``root/foreground`` or ``root/background`` is not a folder.
    """
    root = Path(root)
    out: dict[str, list[str]] = {}
    for role in _ROLES:
        folder = root / role
        if not folder.is_dir():
            raise FileNotFoundError(f"sound library {str(root)!r} has no {role}/ folder (Scaper layout required)")
        out[role] = sorted(
            d.name
            for d in folder.iterdir()
            if d.is_dir()
            and not d.name.startswith(".")
            and any(f.is_file() and f.suffix.lower() in _AUDIO_SUFFIXES for f in d.iterdir())
        )
    return out
