"""The class -> sound mapping of the image-to-soundscape workflow (``configs/soundscape_mapping.yaml``).

Which library labels each Cityscapes class sounds as, in the foreground and in the background; read and
validated here, apart from synthesis, so that checking a params file does not import the audio stack.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from collections.abc import Iterator, Sequence
from collections.abc import Mapping as AbcMapping
from pathlib import Path
from typing import Any

import yaml

from tasks.datasets.cityscapes import TRAIN_CLASSES
from tasks.datasets.sound_library import LIBRARY_LABELS

ROLES = ("foreground", "background")


@dataclasses.dataclass(frozen=True)
class ClassSounds:
    """Sounds of one segmentation class: library labels, or None for no sound in that role."""

    foreground: str | None = None
    background: str | None = None


@dataclasses.dataclass(frozen=True)
class SoundMapping(AbcMapping[str, ClassSounds]):
    """Validated class -> sounds mapping; a read-only Mapping over all 19 classes (unlisted = no sound)."""

    classes: dict[str, ClassSounds]
    source: str = "<mapping>"

    def __getitem__(self, name: str) -> ClassSounds:
        if name not in TRAIN_CLASSES:
            raise KeyError(name)
        return self.classes.get(name, ClassSounds())

    def __iter__(self) -> Iterator[str]:
        return iter(TRAIN_CLASSES)

    def __len__(self) -> int:
        return len(TRAIN_CLASSES)

    def labels(self, role: str) -> set[str]:
        return {getattr(s, role) for s in self.classes.values() if getattr(s, role) is not None}


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys (a class listed twice is an editing mistake)."""


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate entry {key!r}", key_node.start_mark)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping)


def suggest(name: str, options: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, options, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _mapping_from_dict(raw: Any, source: str, allowed: AbcMapping[str, Sequence[str]]) -> SoundMapping:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ValueError(f"{source}: expected a mapping of class name -> sounds, got {type(raw).__name__}")
    classes: dict[str, ClassSounds] = {}
    for name, entry in raw.items():
        if name not in TRAIN_CLASSES:
            raise ValueError(
                f"{source}: entry {name!r} is not a segmentation class{suggest(str(name), TRAIN_CLASSES)}; "
                f"expected one of {list(TRAIN_CLASSES)}"
            )
        if entry is None:
            entry = {}
        if not isinstance(entry, dict):
            raise ValueError(
                f"{source}: entry {name!r} must be empty or a mapping with 'foreground' and/or 'background', "
                f"got {entry!r}"
            )
        bad_keys = sorted(str(k) for k in entry if k not in ROLES)
        if bad_keys:
            raise ValueError(
                f"{source}: entry {name!r} has unknown keys {bad_keys}; only 'foreground' and 'background' are allowed"
            )
        sounds: dict[str, str | None] = {}
        for role in ROLES:
            label = entry.get(role)
            if label is not None and (not isinstance(label, str) or not label.strip()):
                raise ValueError(f"{source}: entry {name!r}: {role} must be a library label (text), got {label!r}")
            if label is not None and label not in allowed[role]:
                raise ValueError(
                    f"{source}: entry {name!r}: {role} label {label!r} is not in the sound library"
                    f"{suggest(label, list(allowed[role]))}; expected one of {sorted(allowed[role])}"
                )
            sounds[role] = label
        classes[name] = ClassSounds(**sounds)
    return SoundMapping(classes=classes, source=source)


def load_mapping(
    path: str | os.PathLike[str], library_labels: AbcMapping[str, Sequence[str]] | None = None
) -> SoundMapping:
    """Load and validate a class -> sound mapping file (``configs/soundscape_mapping.yaml``).

    The file maps segmentation class names to nothing (``~`` or ``{}``) or to ``{foreground: <label>,
    background: <label>}`` (either key optional); classes not listed have no sound.

    Args:
        path: the YAML file.
        library_labels: ``{"foreground": [...], "background": [...]}`` of the library the mapping is
            used with (see ``library.library_labels``); labels must exist in that role. By default
            labels are checked against the original library's labels (``LIBRARY_LABELS``) only.

    Raises:
        ValueError: naming the file and the entry for unknown class names, unknown library labels,
            malformed entries, duplicate entries or invalid YAML.
        FileNotFoundError: if the file does not exist.
    """
    path = Path(path)
    allowed: AbcMapping[str, Sequence[str]]
    if library_labels is None:
        allowed = {role: LIBRARY_LABELS for role in ROLES}
    else:
        allowed = {role: list(library_labels.get(role, [])) for role in ROLES}
    text = path.read_text(encoding="utf-8")
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: invalid YAML: {exc}") from None
    return _mapping_from_dict(raw, str(path), allowed)


def as_mapping(mapping: SoundMapping | AbcMapping[str, Any]) -> SoundMapping:
    if isinstance(mapping, SoundMapping):
        return mapping
    plain = {k: (dataclasses.asdict(v) if isinstance(v, ClassSounds) else v) for k, v in mapping.items()}
    return _mapping_from_dict(plain, "<mapping>", {role: LIBRARY_LABELS for role in ROLES})
