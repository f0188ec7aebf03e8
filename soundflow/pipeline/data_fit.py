"""Parameters that must fit the data they select: folds that exist, enough folds left to train, a prompt per class.

A value such as ``aed.data.test_folds: [7]`` is valid on its own and wrong only against the dataset: checked
inside the stage, it fails after DVC has deleted the stage's outputs to rerun it. So each such parameter is a row
of :data:`CHECKS`, checked against the dataset's index (the metadata CSV the stage reads, through
:func:`tasks.datasets.labelled_audio.read_labelled_audio`) by ``soundflow params``, ``soundflow run`` and
``soundflow repro`` before any stage starts, and again at the start of each stage that reads it.

A dataset the pipeline generates is known before it exists: the urban-sound generator puts clip ``k`` of each
class in fold ``k % n_folds + 1``, so its folds and classes follow from ``data.urban_synth`` (and a copy on disk
made with older values would be replaced anyway). Any other dataset a stage makes (``data/datasets/...``) is
checked once it exists; until then :func:`pending` says which checks wait for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from flows.workflows.data import URBAN_SYNTH
from soundflow.pipeline.config import Params
from tasks.text_to_audio.params import uses_generated

MIN_FOLDS = {"next_fold": 3, "by_source": 2}  # test, validation, training folds; or test and training folds


@dataclass(frozen=True)
class Dataset:
    """What a parameter can be checked against: the folds and class names of a labelled audio dataset."""

    where: str  # the dataset's location as params.yaml names it
    folds: tuple[int, ...]
    classes: tuple[str, ...]


@dataclass(frozen=True)
class FitCheck:
    key: str  # the parameter checked (dotted key of params.yaml)
    data: str  # the dotted key of the dataset location it must fit
    check: Callable[[Params, Dataset, Path], str | None]  # (params, data, repository root): the problem, or None


def _get(params: Params, key: str) -> object:
    node: object = params
    for part in key.split("."):
        node = getattr(node, part)
    return node


def _shown(values: object) -> str:
    return ", ".join(map(str, values))  # type: ignore[call-overload]


def _folds_exist(key: str) -> Callable[[Params, Dataset, Path], str | None]:
    def check(p: Params, d: Dataset, root: Path) -> str | None:
        missing = sorted(set(_get(p, key)) - set(d.folds))  # type: ignore[call-overload]
        if missing:
            return f"fold(s) {_shown(missing)} not among the folds of {d.where} ({_shown(d.folds)})"
        return None

    return check


def _aed_trains(p: Params, d: Dataset, root: Path) -> str | None:
    if set(d.folds) <= set(p.aed.data.test_folds):
        return f"holds every fold of {d.where} ({_shown(d.folds)}), so no fold is left to train on"
    return None


def _t2a_enough_folds(p: Params, d: Dataset, root: Path) -> str | None:
    need = MIN_FOLDS[p.text_to_audio.experiment.validation]
    if len(d.folds) < need:
        return f"{p.text_to_audio.experiment.validation!r} needs at least {need} folds; {d.where} has {len(d.folds)}"
    return None


def _t2a_replace_folds(p: Params, d: Dataset, root: Path) -> str | None:
    e = p.text_to_audio.experiment
    training = len(d.folds) - (MIN_FOLDS[e.validation] - 1)
    if "replaced" in e.data_types and e.replace_folds >= training:
        return (
            f"{e.replace_folds} would replace all {max(training, 0)} training fold(s) of {d.where} "
            "(the 'replaced' training set keeps at least one real fold)"
        )
    return None


def _t2a_prompts(p: Params, d: Dataset, root: Path) -> str | None:
    from tasks.text_to_audio.prompts import PromptFileError, load_prompts

    if not uses_generated(p.text_to_audio.experiment.data_types):
        return None  # a real-only experiment generates nothing
    try:
        book = load_prompts(root / p.text_to_audio.prompts)
    except PromptFileError as err:
        return str(err)
    missing = [c for c in d.classes if c not in book.classes]
    return f"no prompt for the class(es) {_shown(missing)} of {d.where}" if missing else None


AED_DATA = "aed.data.root"
T2A_DATA = "text_to_audio.real.root"
CHECKS: tuple[FitCheck, ...] = (
    FitCheck("aed.data.test_folds", AED_DATA, _folds_exist("aed.data.test_folds")),
    FitCheck("aed.data.test_folds", AED_DATA, _aed_trains),
    FitCheck("text_to_audio.experiment.test_folds", T2A_DATA, _folds_exist("text_to_audio.experiment.test_folds")),
    FitCheck("text_to_audio.experiment.validation", T2A_DATA, _t2a_enough_folds),
    FitCheck("text_to_audio.experiment.replace_folds", T2A_DATA, _t2a_replace_folds),
    FitCheck("text_to_audio.prompts", T2A_DATA, _t2a_prompts),
)
FORMAT_OF = {AED_DATA: "aed.data.format", T2A_DATA: "text_to_audio.real.format"}


def _synthetic(p: Params) -> Dataset:
    from tasks.datasets.urbansound8k import CLASSES

    s = p.data.urban_synth
    folds = tuple(range(1, min(s.clips_per_class, s.n_folds) + 1))  # clip k of a class goes to fold k % n + 1
    return Dataset(URBAN_SYNTH, folds, tuple(CLASSES))


def dataset(params: Params, data_key: str, root: Path, made_by: Callable[[str], str | None]) -> Dataset | None:
    """The folds and classes at ``data_key``'s location: predicted for the generated urban sounds, read from the
    metadata for anything else that exists; None when it does not exist yet or cannot be read (a layout problem
    is reported by the data-location checks of :mod:`soundflow.pipeline.params_check`)."""
    from tasks.datasets.labelled_audio import read_labelled_audio

    where = str(_get(params, data_key))
    if made_by(where) == "urban_synth" and Path(root, where).resolve() == Path(root, URBAN_SYNTH).resolve():
        return _synthetic(params)
    try:
        table = read_labelled_audio(Path(root) / where, str(_get(params, FORMAT_OF[data_key])))
    except (OSError, ValueError, KeyError):
        return None
    classes = table.drop_duplicates("label").sort_values("label")["class"]
    return Dataset(where, tuple(sorted(set(int(f) for f in table["fold"]))), tuple(map(str, classes)))


def _selected(keys: tuple[str, ...] | None) -> list[FitCheck]:
    if keys is None:
        return list(CHECKS)
    return [c for c in CHECKS if any(c.key == k or c.key.startswith(k + ".") for k in keys)]


def problems(
    params: Params, root: Path, made_by: Callable[[str], str | None], keys: tuple[str, ...] | None = None
) -> list[str]:
    """``key: problem`` for each check (of the parameters under ``keys``, all if None) that its data refuses."""
    found: dict[str, Dataset | None] = {}
    out = []
    for c in _selected(keys):
        if c.data not in found:
            found[c.data] = dataset(params, c.data, root, made_by)
        data = found[c.data]
        if data is None:
            continue
        if msg := c.check(params, data, Path(root)):
            out.append(f"{c.key}: {msg}")
    return out


def pending(params: Params, root: Path, made_by: Callable[[str], str | None]) -> list[str]:
    """One note per dataset whose checks wait for it to exist (a stage makes it later)."""
    notes = []
    for data_key in dict.fromkeys(c.data for c in CHECKS):
        if dataset(params, data_key, root, made_by) is None:
            where = str(_get(params, data_key))
            keys = ", ".join(dict.fromkeys(c.key for c in CHECKS if c.data == data_key))
            maker = made_by(where)
            when = f"once the {maker} stage has made it" if maker else "once it exists"
            notes.append(f"{keys} will be checked against {where} {when}")
    return notes
