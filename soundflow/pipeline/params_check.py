"""Data locations of params.yaml: each must exist and hold the layout its stage reads.

A location the user brings (a real dataset folder, a Scaper library, the mapping file) is checked by
:func:`validate`, which ``soundflow params``, ``soundflow run`` and ``soundflow repro`` call before
any stage starts, and so before DVC deletes a stage's outputs to rerun it. A location inside a
stage's output (``data/generated/...``, ``data/datasets/...``) does not exist before that stage's
first run, so only the stage that reads it checks it, at its start (:func:`check_stage_inputs`,
from ``runner.execute``), when the upstream stage must have made it.

This module reads the stage declarations (which outputs exist only after a run), so it lives
beside ``config.py``, which ``stages.py`` imports and which therefore cannot import ``stages.py``.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from soundflow.pipeline import data_fit
from soundflow.pipeline.config import PARAMS_FILE, Params, ParamsError, load_params
from soundflow.pipeline.stages import STAGES, Stage

AUDIO_LAYOUTS = {
    "urbansound8k": "UrbanSound8K's layout: metadata/UrbanSound8K.csv and audio/fold<k>/",
    "esc50": "ESC-50's layout: meta/esc50.csv (or meta.csv, as ESC-10) and audio/",
}
SPLITS = ("train", "val")  # the splits segmentation trains on and selects the best epoch with; and seg.evaluate.split


@dataclass(frozen=True)
class DataLocation:
    key: str  # dotted key of params.yaml
    expected: Callable[[Params], str]  # the layout, in words, for the error message
    check: Callable[[Path, Params, Path], None]  # (path, params, repo root): raises on an unusable location


def _labelled_audio_as(fmt_of: Callable[[Params], str]) -> Callable[[Path, Params, Path], None]:
    """The check of a labelled audio folder in the layout ``fmt_of(params)`` names."""

    def check(path: Path, p: Params, root: Path) -> None:
        from tasks.datasets.labelled_audio import read_labelled_audio

        fmt = fmt_of(p)
        read_labelled_audio(path, fmt)  # the metadata CSV and its columns; names what is missing
        audio = path / "audio"
        folders = sorted(audio.glob("fold*")) if fmt == "urbansound8k" else [audio]
        if not any(f.is_dir() for f in folders):
            raise FileNotFoundError(f"no {'audio/fold<k>/' if fmt == 'urbansound8k' else 'audio/'} folder")

    return check


def _seg_splits(p: Params) -> tuple[str, ...]:
    return tuple(dict.fromkeys((*SPLITS, p.seg.evaluate.split)))


def _cityscapes(path: Path, p: Params, root: Path) -> None:
    from tasks.datasets.cityscapes import find_pairs

    for split in _seg_splits(p):
        find_pairs(path, split)  # images with their label files; names the missing folder or file


def _images(path: Path, p: Params, root: Path) -> None:
    suffix = p.seg.predict.image_type
    if not path.is_dir():
        raise NotADirectoryError("not a folder")
    if next((f for f in path.rglob(f"*.{suffix}") if f.is_file()), None) is None:
        raise FileNotFoundError(f"no *.{suffix} image in it")


def _library(path: Path, p: Params, root: Path) -> None:
    from tasks.datasets.sound_library import library_labels

    labels = library_labels(path)  # raises when foreground/ or background/ is missing
    if not labels["background"]:
        raise FileNotFoundError("no background/<label>/ folder holding audio (every soundscape needs a background)")


def _mapping(path: Path, p: Params, root: Path) -> None:
    from tasks.datasets.sound_library import library_labels
    from tasks.soundscapes.mapping import load_mapping

    if not path.is_file():
        raise IsADirectoryError("not a file")
    try:  # checked against the labels of a library the user brought; a generated one has the default labels
        labels = library_labels(root / p.soundscapes.library)
    except OSError:
        labels = None
    load_mapping(path, labels)


LOCATIONS: tuple[DataLocation, ...] = (
    DataLocation(
        "aed.data.root", lambda p: AUDIO_LAYOUTS[p.aed.data.format], _labelled_audio_as(lambda p: p.aed.data.format)
    ),
    DataLocation(
        "text_to_audio.real.root",
        lambda p: AUDIO_LAYOUTS[p.text_to_audio.real.format],
        _labelled_audio_as(lambda p: p.text_to_audio.real.format),
    ),
    DataLocation(
        "seg.data.root",
        lambda p: (
            "Cityscapes' layout: leftImg8bit/<split>/<city>/*_leftImg8bit.png and "
            f"gtFine/<split>/<city>/*_gtFine_labelIds.png for the {', '.join(_seg_splits(p))} splits"
        ),
        _cityscapes,
    ),
    DataLocation(
        "seg.predict.images",
        lambda p: f"a folder of *.{p.seg.predict.image_type} images (searched recursively)",
        _images,
    ),
    DataLocation(
        "soundscapes.library",
        lambda p: "Scaper's layout: foreground/<label>/*.wav and background/<label>/*.wav",
        _library,
    ),
    DataLocation(
        "soundscapes.mapping",
        lambda p: "a class -> sound mapping file in the format of configs/soundscape_mapping.yaml",
        _mapping,
    ),
)


def value_of(params: Params, key: str) -> str:
    return str(functools.reduce(getattr, key.split("."), params))


def generated_by(location: str, root: Path) -> str | None:
    """The stage whose output holds ``location`` (relative to ``root`` or absolute), or None if the user brings it."""
    root = Path(root).resolve()
    path = Path(os.path.normpath(root / location))
    for stage in STAGES:
        for out in stage.outs:
            made = Path(os.path.normpath(root / out))
            if path == made or made in path.parents:
                return stage.name
    return None


def _problem(loc: DataLocation, params: Params, root: Path) -> str | None:
    value = value_of(params, loc.key)
    path = root / value
    expected = f"(expected {loc.expected(params)})"
    maker = generated_by(value, root)
    if not path.exists():
        hint = f"; it is made by the {maker} stage, which must run first" if maker else ""
        return f"{loc.key}: {value!r} does not exist{hint} {expected}"
    try:
        loc.check(path, params, root)
    except (OSError, ValueError) as err:
        return f"{loc.key}: {value!r} is not usable: {err} {expected}"
    return None


def _refuse(locations: Iterable[DataLocation], params: Params, root: Path) -> None:
    problems = [msg for loc in locations if (msg := _problem(loc, params, root))]
    if problems:
        raise ParamsError(
            "\n".join(
                [f"{root / PARAMS_FILE}: {len(problems)} unusable data location(s)", *(f"  {m}" for m in problems)]
            )
        )


def check_data_locations(params: Params, root: Path) -> None:
    """Refuse (ParamsError) a location the user brings that is missing or not in its layout.

    Locations inside a stage's output are left to the stage that reads them (:func:`check_stage_inputs`).
    """
    root = Path(root).resolve()
    _refuse([loc for loc in LOCATIONS if generated_by(value_of(params, loc.key), root) is None], params, root)


def check_data_fit(params: Params, root: Path, keys: tuple[str, ...] | None = None) -> None:
    """Refuse (ParamsError) a parameter that does not fit its dataset (:mod:`soundflow.pipeline.data_fit`): a test fold
    the dataset lacks, no fold left to train, a class without a prompt. ``keys``: only the parameters under them."""
    root = Path(root).resolve()
    problems = data_fit.problems(params, root, lambda where: generated_by(where, root), keys)
    path = root / PARAMS_FILE
    if len(problems) == 1:
        raise ParamsError(f"{path}: {problems[0]}")
    if problems:
        raise ParamsError("\n".join([f"{path}: {len(problems)} parameter(s) that do not fit their data", *problems]))


def pending_checks(params: Params, root: Path) -> list[str]:
    """The data-fit checks that wait for a dataset a stage has not made yet (said by ``soundflow params``)."""
    root = Path(root).resolve()
    return data_fit.pending(params, root, lambda where: generated_by(where, root))


def check_stage_inputs(params: Params, root: Path, stage: Stage) -> None:
    """At the start of ``stage``: every location it reads, generated or not, must exist in its layout, and its
    parameters must fit the data (checked here too for data an upstream stage has only now made)."""
    reads = [loc for loc in LOCATIONS if any(loc.key == k or loc.key.startswith(k + ".") for k in stage.params)]
    _refuse(reads, params, Path(root).resolve())
    check_data_fit(params, root, stage.params)


def validate(root: Path) -> Params:
    """Everything ``soundflow params`` checks: the schema of params.yaml, the locations the user brings, then the
    parameters that must fit their data (as far as the data exists, or is known before it is made)."""
    params = load_params(root)
    check_data_locations(params, root)
    check_data_fit(params, root)
    return params
