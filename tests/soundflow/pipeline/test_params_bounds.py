"""Every bound of the composed schema, walked from the models' own metadata.

For each bounded field of :class:`soundflow.pipeline.config.Params` (``ge``, ``gt``, ``le``, ``lt``, ``min_length``,
``multiple_of``, a ``Literal``'s choices), at any depth (nested models, the ends of a range, list items,
optional values, the soundscape dataclass), a value just outside the bound must be refused naming the dotted
key, and the value at the bound must not be refused by the bound. The cases come from the schema, so a new
bounded field is covered without touching this file, and a new kind of constraint fails here until it is.
"""

from __future__ import annotations

import copy
import importlib
import math
import sys
import types
import typing
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import annotated_types as at
import pytest
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic.types import Strict as StrictType

import soundflow.io
from soundflow.pipeline import cli
from soundflow.pipeline.config import Params, ParamsError, parse_params, read_params_yaml
from soundflow.pipeline.stages import STAGES

ROOT = Path(__file__).resolve().parents[3]
COMMITTED = read_params_yaml(ROOT / "params.yaml")


@dataclass(frozen=True)
class Case:
    key: str  # dotted, as the error messages name it
    rule: str
    outside: Any
    inside: Any


def _fields(tp: Any) -> dict[str, FieldInfo] | None:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp.model_fields
    return getattr(tp, "__pydantic_fields__", None)  # a pydantic dataclass


def _split(tp: Any, metadata: list[Any]) -> tuple[Any, list[Any]]:
    """``Annotated[base, ...]`` -> (base, its constraints added to ``metadata``)."""
    while typing.get_origin(tp) is Annotated:
        tp, *extra = typing.get_args(tp)
        for e in extra:
            metadata = metadata + (list(e.metadata) if isinstance(e, FieldInfo) else [e])
    return tp, metadata


def walk(tp: Any, metadata: list[Any], key: str) -> Iterator[tuple[str, Any, list[Any]]]:
    """(dotted key, leaf type, its constraints) of every value in the schema under ``tp``."""
    tp, metadata = _split(tp, metadata)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    fields = _fields(tp)
    if fields is not None:
        for name, info in fields.items():
            yield from walk(info.annotation, list(info.metadata), f"{key}.{name}" if key else name)
    elif origin in (typing.Union, types.UnionType):  # Optional[x]: the constraints are x's
        for arg in args:
            if arg is not type(None):
                yield from walk(arg, metadata, key)
    elif origin is tuple:
        for i, arg in enumerate(args):
            yield from walk(arg, [], f"{key}.{i}")
    elif origin is list:
        if metadata:
            yield key, list, metadata
        yield from walk(args[0], [], f"{key}.0")
    else:
        yield key, tp, metadata


def _step(value: int | float, up: bool, kind: Any) -> int | float:
    """The next value of the field's type above (``up``) or below ``value``."""
    if kind is int:
        return value + (1 if up else -1)
    return math.nextafter(float(value), math.inf if up else -math.inf)


def _current(key: str) -> Any:
    node: Any = COMMITTED
    for part in key.split("."):
        node = node[int(part)] if isinstance(node, list) else node.get(part)
    return node


def cases_of(key: str, kind: Any, metadata: list[Any]) -> Iterator[Case]:
    if typing.get_origin(kind) is Literal:
        choices = typing.get_args(kind)
        yield Case(key, f"one of {choices}", "no-such-choice", choices[0])
        return
    for c in metadata:
        if isinstance(c, at.Ge):
            yield Case(key, f"ge {c.ge}", _step(c.ge, False, kind), c.ge)
        elif isinstance(c, at.Gt):
            yield Case(key, f"gt {c.gt}", c.gt, _step(c.gt, True, kind))
        elif isinstance(c, at.Le):
            yield Case(key, f"le {c.le}", _step(c.le, True, kind), c.le)
        elif isinstance(c, at.Lt):
            yield Case(key, f"lt {c.lt}", c.lt, _step(c.lt, False, kind))
        elif isinstance(c, at.MinLen):
            sample = _current(key)
            short, enough = (
                (sample[: c.min_length - 1], sample[: c.min_length])
                if kind is list
                else ("x" * (c.min_length - 1), "x" * c.min_length)
            )
            yield Case(key, f"min_length {c.min_length}", short, enough)
        elif isinstance(c, at.MultipleOf):
            yield Case(key, f"multiple_of {c.multiple_of}", 2 * c.multiple_of + 1, 2 * c.multiple_of)
        elif isinstance(c, StrictType) and kind is bool:  # a flag: the string "true" is no boolean
            yield Case(key, "strict bool", "true", True)
        else:
            raise AssertionError(f"{key}: constraint {c!r} has no case here yet; add one to cases_of")


CASES = [case for key, kind, metadata in walk(Params, [], "") for case in cases_of(key, kind, metadata)]


def _with(key: str, value: Any, both_ends: bool = False) -> dict:
    """The committed parameters with ``key`` set to ``value``; ``both_ends``: both ends of its pair, when it is
    one end of a pair (so that a range stays ordered at either bound)."""
    raw = copy.deepcopy(COMMITTED)
    *parents, last = key.split(".")
    node: Any = raw
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if isinstance(node, list):
        for i in range(len(node)) if both_ends and len(node) == 2 else [int(last)]:
            node[i] = value
    else:
        node[last] = value  # an optional key the committed file leaves out (soundscapes.synthesis.sample_rate)
    return raw


def _error_lines(raw: dict) -> list[str]:
    try:
        parse_params(raw, Path("params.yaml"))
    except ParamsError as err:
        lines = str(err).splitlines()  # one problem is one line, "params.yaml: key: ...": indented as in a list
        return lines[1:] if len(lines) > 1 else ["  " + lines[0].removeprefix("params.yaml: ")]
    return []


def test_the_walk_reaches_every_kind_of_field() -> None:
    keys = {c.key for c in CASES}
    assert {
        "data.street_scenes.height",  # a plain bound
        "data.urban_synth.duration.0",
        "seg.data.image_size.1",  # the ends of a range
        "features.clip_seconds",
        "soundscapes.synthesis.reverb",
        "soundscapes.synthesis.sample_rate",  # optional
        "soundscapes.synthesis.n_events.1",
        "soundscapes.synthesis.duration",  # the soundscape dataclass
        "aed.data.test_folds",
        "features.sets.0.dataset",  # a list, and a field of a list item
        "aed.train.seed",
        "aed.model.dropout",
        "aed.features.window",
    } <= keys
    assert len(CASES) > 150


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.key}-{c.rule}")
def test_a_value_just_outside_a_bound_is_refused_by_key(case: Case) -> None:
    lines = _error_lines(_with(case.key, case.outside))
    assert any(line.startswith(f"  {case.key}: ") for line in lines), (case.outside, lines)


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.key}-{c.rule}")
def test_the_value_at_a_bound_is_accepted(case: Case) -> None:
    lines = _error_lines(_with(case.key, case.inside, both_ends=True))
    # only a rule between values may object (one sample at the sample rate, a chunk hop longer than the chunk,
    # a dataset no stage makes); such rules are validators, whose messages start "Value error,"
    assert not any(line.startswith(f"  {case.key}: ") for line in lines), (case.inside, lines)
    assert all("Value error," in line for line in lines), (case.inside, lines)


@pytest.mark.parametrize(
    ("key", "value", "why"),
    [
        # accepted by the schema before, then refused inside the stage
        ("data.urban_synth.duration", [0.0, 4.0], "the generator needs clips of at least one sample"),
        ("data.urban_synth.duration", [1e-5, 4.0], "shorter than one sample at 22050 Hz"),
        ("data.urban_synth.seed", -1, "numpy's generators take no negative seed"),
        ("data.sound_library.event_duration", [0.2, 1.0], "Scaper's loudness needs 0.5 s"),
        ("data.sound_library.background_duration", 0.5, "the ambience models need 1 s"),
        ("aed.train.seed", 2**32, "numpy.random.seed takes at most 2**32 - 1"),
        ("seg.train.seed", -1, "numpy.random.seed takes no negative seed"),
        ("soundscapes.synthesis.pitch_shift", "yes", "a flag is true or false"),
    ],
)
def test_values_the_stages_refuse_are_refused_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], key: str, value: Any, why: str
) -> None:
    import yaml

    (tmp_path / "params.yaml").write_text(yaml.safe_dump(_with(key, value)))
    (tmp_path / "dvc.yaml").write_text((ROOT / "dvc.yaml").read_text())
    monkeypatch.chdir(tmp_path)
    assert cli.main(["params"]) == 2, why
    err = capsys.readouterr().err
    # one problem: one line "params.yaml: KEY: problem"; several: a list with one "  KEY: problem" line each
    assert any(f"{sep}{key}{end}" in err for sep in (" ", "  ") for end in (": ", ".")), err


# The procedural datasets' stages, by the params.yaml section each reads.
GENERATOR_STAGES = {
    "data.urban_synth.": "urban_synth",
    "data.street_scenes.": "street_scenes",
    "data.sound_library.": "sound_library",
}
GENERATOR_CASES = [(c, stage) for c in CASES for prefix, stage in GENERATOR_STAGES.items() if c.key.startswith(prefix)]


class _Writing(Exception):
    """Raised where a generator starts writing: its argument checks are behind it."""


@pytest.mark.parametrize(
    ("case", "stage"), GENERATOR_CASES, ids=lambda x: f"{x.key}-{x.rule}" if isinstance(x, Case) else x
)
def test_a_generator_accepts_every_value_its_schema_accepts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, case: Case, stage: str
) -> None:
    try:
        params = parse_params(_with(case.key, case.inside, both_ends=True), Path("params.yaml"))
    except ParamsError:
        pytest.skip("a rule between values refuses it (one sample at the sample rate): no stage gets it")
    declared = next(s for s in STAGES if s.name == stage)
    # import the stage's code first, so the patches below are undone in every module that holds the name
    # (patching soundflow.io before a generator imports it would leave the stub there for later tests)
    for path in declared.code_deps:
        importlib.import_module(path.removesuffix(".py").removesuffix("/__init__").replace("/", "."))
    run = declared.run
    with pytest.raises(_Writing):
        # stop the generator at the first write, where it opens its folder
        monkeypatch.setattr(soundflow.io, "generated_folder", _refuse_to_write)
        for module in [m for name, m in sys.modules.items() if name.startswith("tasks.")]:
            if getattr(module, "generated_folder", None) is not None:
                monkeypatch.setattr(module, "generated_folder", _refuse_to_write)
        run(params, tmp_path)


def _refuse_to_write(*args: Any, **kwargs: Any) -> Any:
    raise _Writing()


def test_the_generators_are_checked_at_their_bounds() -> None:
    assert {stage for _, stage in GENERATOR_CASES} == set(GENERATOR_STAGES.values())
    assert len(GENERATOR_CASES) >= 30
