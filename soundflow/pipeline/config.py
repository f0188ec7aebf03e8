"""Typed, validated parameters: the one schema of ``params.yaml``.

Each workflow declares its parameter models next to its tasks (``tasks/<workflow>/params.py``, on the
base of :mod:`soundflow.params_base`) and names its sections in its workflow module; this module composes
the sections of every workflow the registry finds into :class:`Params`, runs the rules they declare across
sections, and reads the file. Every stage reads its parameters through :func:`load_params`, so
a bad value is reported once, before any work starts, with the dotted key that is wrong.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, create_model, model_validator

from soundflow.errors import UserError
from soundflow.finite import non_finite_leaves
from soundflow.params_base import SECRET_ERROR, Strict
from soundflow.pipeline.ops.schedule_params import SchedulesParams
from soundflow.pipeline.stages import WORKFLOWS

PARAMS_FILE = "params.yaml"
NOT_FINITE = "must be a finite number"


class TrackingParams(Strict):
    experiment: str = Field(min_length=1)


class _Composed(Strict):
    """The rules that span sections, each declared by the workflow that owns them."""

    @model_validator(mode="after")
    def _workflow_checks(self) -> _Composed:
        for unit in WORKFLOWS:
            if unit.check is not None:
                unit.check(self)
        return self


# The one schema of params.yaml: the pipeline's own sections and each workflow's, as its module declares them.
Params = create_model(
    "Params",
    __base__=_Composed,
    tracking=(TrackingParams, ...),
    **{section: (model, ...) for unit in WORKFLOWS for section, model in unit.sections.items()},
    schedules=(SchedulesParams, SchedulesParams()),  # operations (soundflow serve), read by no stage
)


class ParamsError(UserError, ValueError):
    """A params file that cannot be used; the message names the file, key and problem."""


def _error_lines(err: ValidationError, reported: set[str]) -> list[str]:
    lines = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "<root>"
        # a non-finite value is reported once, by its own key; errors it caused up or down the tree add nothing
        if any(key == k or key.startswith(k + ".") or k.startswith(key + ".") for k in reported):
            continue
        got = e.get("input")
        shown = "" if isinstance(got, dict) or e["type"] == SECRET_ERROR else f" (got {got!r})"
        msg = NOT_FINITE if e["type"] == "finite_number" else e["msg"]
        lines.append(f"  {key}: {msg}{shown}")
    return lines


def parse_params(raw: Any, source: Path) -> Params:
    # NaN/inf checked on the raw tree first: it also covers untyped mappings (soundscapes.synthesis)
    bad = non_finite_leaves(raw)
    lines = [f"  {key}: {NOT_FINITE} (got {value!r})" for key, value in bad]
    try:
        params = Params.model_validate(raw)
    except ValidationError as err:
        lines += _error_lines(err, {key for key, _ in bad})
    if len(lines) == 1:  # one problem: one line, naming the file and the key
        raise ParamsError(f"{source}: {lines[0].strip()}")
    if lines:
        raise ParamsError("\n".join([f"{source}: {len(lines)} invalid parameter(s)", *lines]))
    return params


def _load_yaml(path: Path, what: str) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ParamsError(f"{path}: {what} not found") from None
    except UnicodeDecodeError as err:
        raise ParamsError(f"{path}: not UTF-8 text (byte {err.start}: {err.reason})") from None
    except yaml.YAMLError as err:  # its message spans lines (the mark and a caret): one line here
        raise ParamsError(f"{path}: not valid YAML: {' '.join(str(err).split())}") from None


def read_params_yaml(path: Path) -> dict[str, Any]:
    raw = _load_yaml(path, "parameters file")
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: expected a mapping at the top level")
    refuse_dvc_hidden_keys(raw, path)
    return raw


# DVC drops keys with these exact names, at any depth, from a stage's run-cache key (treeverse/dvc#10296)
DVC_HIDDEN_KEYS = ("size", "nfiles")


def refuse_dvc_hidden_keys(raw: Any, path: Path, prefix: str = "") -> None:
    """Refuse a parameter DVC cannot see: changing it would serve a cached result made with the old value."""
    items = raw.items() if isinstance(raw, dict) else enumerate(raw) if isinstance(raw, list) else ()
    for key, value in items:
        dotted = f"{prefix}{key}"
        if key in DVC_HIDDEN_KEYS:
            raise ParamsError(
                f"{path}: {dotted}: no parameter may be named {key!r}: DVC leaves keys named "
                f"{' or '.join(map(repr, DVC_HIDDEN_KEYS))} out of its run-cache key "
                "(treeverse/dvc#10296), so a changed value would not rerun the stage; rename it "
                "(e.g. image_size)"
            )
        refuse_dvc_hidden_keys(value, path, dotted + ".")


def load_params(root: Path) -> Params:
    path = Path(root) / PARAMS_FILE
    return parse_params(read_params_yaml(path), path)


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``: how params reach MLflow."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def select(raw: dict[str, Any], dotted: str) -> Any:
    node: Any = raw
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(dotted)
        node = node[part]
    return node


def set_dotted(raw: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = raw
    for part in parts[:-1]:
        if not isinstance(node.get(part), dict):
            raise KeyError(f"{dotted}: {part!r} is not a section of params.yaml")
        node = node[part]
    if parts[-1] not in node:
        raise KeyError(f"{dotted}: no such parameter")
    node[parts[-1]] = value


# ------------------------------------------------------------------------------------------------ override files
def read_overrides(path: Path) -> dict[str, Any]:
    """The overrides of a YAML file (``configs/real/*.yaml``): a mapping of dotted keys (``aed.data.root: ...``)
    and/or nested sections, as dotted leaves; a list is one value, as ``dvc exp run -S key=[1,2]`` sets it."""
    path = Path(path)
    raw = _load_yaml(path, "override file")
    if not isinstance(raw, dict) or not raw:
        raise ParamsError(f"{path}: expected a mapping of dotted parameter keys to values")
    flat = flatten(raw)
    refuse_dvc_hidden_keys(functools.reduce(_nest, flat, {}), path)  # dotted keys too: aed.features.size
    return flat


def _nest(tree: dict[str, Any], dotted: str) -> dict[str, Any]:
    node = tree
    for part in dotted.split("."):
        node = node.setdefault(part, {})
    return tree


def overridden(raw: dict[str, Any], overrides: dict[str, Any], source: Path) -> dict[str, Any]:
    """``raw`` (a params.yaml tree, changed in place) with ``overrides`` set; an unknown key names ``source``."""
    for key, value in overrides.items():
        try:
            set_dotted(raw, key, value)
        except KeyError as err:
            raise ParamsError(f"{source}: {err.args[0]}") from None
    return raw


def apply_overrides(params_path: Path, overrides: dict[str, Any], source: Path) -> Params:
    """Set ``overrides`` in the params file, validated first, keeping its comments and layout (what
    ``dvc exp run -S`` does per key); returns the new parameters."""
    from ruamel.yaml import YAML  # DVC's own round-trip YAML library
    from ruamel.yaml.comments import CommentedSeq

    from soundflow.io import atomic_path

    params = parse_params(overridden(read_params_yaml(params_path), overrides, source), params_path)
    rt = YAML()
    rt.preserve_quotes, rt.width = True, 4096
    rt.indent(mapping=2, sequence=4, offset=2)  # params.yaml's own style
    rt.representer.add_representer(type(None), lambda r, _: r.represent_scalar("tag:yaml.org,2002:null", "null"))
    doc = rt.load(Path(params_path).read_text())
    for key, value in overrides.items():
        *parents, last = key.split(".")
        node = functools.reduce(lambda n, k: n[k], parents, doc)
        old = node[last]
        if isinstance(value, list) and not (isinstance(old, CommentedSeq) and len(old) and not old.fa.flow_style()):
            value = CommentedSeq(value)
            value.fa.set_flow_style()  # [1, 2] on its line, as params.yaml writes lists (but block ones)
        node[last] = value
    with atomic_path(params_path) as tmp, open(tmp, "w") as fh:
        rt.dump(doc, fh)
    return params
