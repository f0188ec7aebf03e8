"""``soundflow reproduce WORKFLOW``: one workflow at its paper's sizes on the real datasets, as one DVC experiment.

``configs/paper/<flow>.yaml`` is, per workflow, an overlay of ``params.yaml`` with the paper's sizes and
data, each value beside its source. :func:`plan` merges the overlay into ``params.yaml`` in memory and,
before DVC starts, refuses what would fail later: a value the schema refuses (as ``soundflow params``
does), a data location the user brings that is missing or not in its layout, a dataset that the
``datasets`` stage cannot fetch (not listed in ``data.download.datasets``, or a login without its
credentials), a file no registered dataset provides (a published checkpoint) that is not in ``data/raw/``.
Its command is ``dvc exp run --name paper-<flow> -S key=value ... <the workflow's stages>``: DVC writes the
values into ``params.yaml`` with its Hydra parser, reproduces the stages with their stale upstream, and
keeps the result as a named experiment (``dvc exp show``). The ``-S`` values are checked against DVC's own
parser first (:func:`check_round_trip`), so the experiment runs exactly the set that was validated.
"""

from __future__ import annotations

import copy
import os
import re
import subprocess
import sys
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flows.workflows.data import DATASETS
from soundflow.pipeline.config import (
    PARAMS_FILE,
    Params,
    ParamsError,
    flatten,
    overridden,
    parse_params,
    read_overrides,
    read_params_yaml,
    select,
)
from soundflow.pipeline.params_check import check_data_locations
from soundflow.pipeline.stages import STAGES, headline_metrics, workflow

PAPER_DIR = "configs/paper"
EXPERIMENT_PREFIX = "paper-"
RAW = "data/raw"  # data.dvc's folder: `soundflow download` and the files a user brings
# Files a set names that no registered dataset provides, placed in data/raw/ by the user: where to get them.
BROUGHT = {
    "ResNet38_mAP=0.434.pth": "PANN's official ResNet38 checkpoint from "
    "https://zenodo.org/record/3987831/files/ResNet38_mAP%3D0.434.pth (md5 bf12f36aaabac4e0855e22d3c3239c1b)",
    "resnet18-f37072fd.pth": "torchvision's ImageNet ResNet-18 weights from "
    "https://download.pytorch.org/models/resnet18-f37072fd.pth",
}


def workflows() -> list[str]:
    """The workflows with a paper to reproduce: those whose models are ranked by a headline metric."""
    return sorted(headline_metrics())


def resolve(name: str) -> str:
    """The workflow ``name`` means (its name or a former one)."""
    flow = workflow(name).name
    if flow not in workflows():
        raise ParamsError(f"workflow {name!r} has no paper configuration; workflows: {', '.join(workflows())}")
    return flow


def paper_file(flow: str) -> str:
    return f"{PAPER_DIR}/{flow}.yaml"


def workflow_stages(flow: str) -> list[str]:
    return [s.name for s in STAGES if s.flow == flow]


@dataclass(frozen=True)
class Plan:
    """What ``soundflow reproduce`` runs: the set's values that differ from params.yaml, on these stages."""

    workflow: str
    overlay: str  # the set's file, relative to the project
    changes: dict[str, Any]  # dotted key -> value, only where the set differs from params.yaml
    stages: list[str]
    notes: list[str]  # what will happen first (datasets the stage fetches)

    def command(self, name: str | None = None) -> list[str]:
        sets = [a for key, value in self.changes.items() for a in ("-S", hydra_override(key, value))]
        return ["dvc", "exp", "run", "--name", name or EXPERIMENT_PREFIX + self.workflow, *sets, *self.stages]


def plan(root: Path, name: str) -> Plan:
    """Validate the paper set of workflow ``name`` merged into ``root``'s params.yaml; raises ParamsError."""
    root = Path(root).resolve()
    flow = resolve(name)
    overlay = paper_file(flow)
    if not (root / overlay).is_file():
        raise ParamsError(f"{overlay}: no paper parameter set for {flow}")
    current = read_params_yaml(root / PARAMS_FILE)
    leaves = read_overrides(root / overlay)
    raw = overridden(copy.deepcopy(current), leaves, Path(overlay))  # an unknown key names the set's file
    params = parse_params(raw, Path(overlay))  # the schema, as `soundflow params` checks it
    notes = check_datasets(root, overlay, raw, params)
    check_locations(root, overlay, params)
    if flow == "text_to_audio":
        check_hub_model(root, overlay, params)
    changes = {k: v for k, v in leaves.items() if select(current, k) != v}
    check_round_trip(root, overlay, changes, raw)
    return Plan(flow, overlay, changes, workflow_stages(flow), notes)


def check_locations(root: Path, overlay: str, params: Params) -> None:
    """The data locations the user brings, as `soundflow params` checks them, reported against the set."""
    try:
        check_data_locations(params, root)
    except ParamsError as err:
        _, _, problems = str(err).partition("\n")
        raise ParamsError(f"{overlay} merged into {PARAMS_FILE}: unusable data location(s)\n{problems}") from None


def check_datasets(root: Path, overlay: str, raw: dict[str, Any], params: Params) -> list[str]:
    """Refuse a dataset or file the run cannot have; return notes on what the datasets stage fetches first."""
    from tasks.datasets import registry

    listed = params.data.download.datasets
    notes = []
    for name in listed:
        if not registry.is_present(name, root / DATASETS):
            check_login(root, overlay, name)
            notes.append(f"the datasets stage fetches {name} into {DATASETS}/{registry.get(name).folder}/ first")
    for key, value in flatten(raw).items():
        if isinstance(value, str) and value.startswith(DATASETS + "/"):
            check_staged(overlay, key, value, listed)
        elif isinstance(value, str) and value.startswith(RAW + "/"):
            check_raw(root, overlay, key, value)
    return notes


def _dataset_in(base: str, value: str):
    """The registered dataset whose folder under ``base`` holds ``value``, or None."""
    from tasks.datasets import registry

    folder = next(iter(Path(value).relative_to(base).parts), "")
    return next((registry.get(n) for n in registry.available() if registry.get(n).folder == folder), None)


def check_staged(overlay: str, key: str, value: str, listed: list[str]) -> None:
    """A location inside the datasets stage's output: its dataset must be one that stage fetches."""
    info = _dataset_in(DATASETS, value)
    if info is None:
        raise ParamsError(
            f"{overlay}: {key}: {value!r} lies in {DATASETS}/, which only the datasets stage fills, "
            "but in no registered dataset's folder (`soundflow datasets` lists them)"
        )
    if info.name not in listed:
        raise ParamsError(
            f"{overlay}: {key}: {value!r} is part of the {info.name} dataset, which the datasets stage fetches "
            f"only when data.download.datasets lists it: add {info.name} there"
        )


def check_raw(root: Path, overlay: str, key: str, value: str) -> None:
    """A location in data/raw/: fetched by `soundflow download` or brought by hand, so it must exist now."""
    if (root / value).exists():
        return
    info = _dataset_in(RAW, value)
    if info is not None:
        raise ParamsError(
            f"{overlay}: {key}: {value!r} does not exist: it is part of the {info.name} dataset, "
            f"which `soundflow download {info.name}` fetches into {RAW}/{info.folder}/"
        )
    source = BROUGHT.get(Path(value).name, "this file (see the comment beside the key)")
    raise ParamsError(f"{overlay}: {key}: {value!r} does not exist: download {source} into {RAW}/")


def check_login(root: Path, overlay: str, name: str) -> None:
    """A dataset behind a login can be fetched inside DVC only with its credentials in the environment."""
    from tasks.datasets import registry

    info = registry.get(name)
    if info.login is None:
        return
    downloads = root / DATASETS / info.folder / "downloads"
    if all((downloads / f.filename).is_file() for f in info.files):
        return  # placed by hand: the stage verifies them and logs in only for a missing file
    _, user_var, password_var = registry.LOGINS[info.login]
    if not (os.environ.get(user_var) and os.environ.get(password_var)):
        files = " and ".join(f.filename for f in info.files)
        raise ParamsError(
            f"{overlay}: {name} needs a login to download: export {user_var} and {password_var} "
            f"(the datasets stage then fetches it), or put {files} into {downloads.relative_to(root)}/"
        )


_TRUE = {"1", "ON", "YES", "TRUE"}  # huggingface_hub's reading of HF_HUB_OFFLINE


def check_hub_model(root: Path, overlay: str, params: Params) -> None:
    """AudioLDM2 from the hub: soundflow keeps the hub offline (HF_HUB_OFFLINE=1), so it must be cached already."""
    g = params.text_to_audio.generate
    if g.generator != "audioldm2" or (root / g.audioldm2.model).is_dir():
        return
    if os.environ.get("HF_HUB_OFFLINE", "1").upper() not in _TRUE:
        return  # the stage downloads it
    from huggingface_hub import try_to_load_from_cache

    if isinstance(try_to_load_from_cache(g.audioldm2.model, "model_index.json"), str):
        return
    raise ParamsError(
        f"{overlay}: text_to_audio.generate.audioldm2.model: {g.audioldm2.model!r} is not in the Hugging Face "
        "cache and soundflow keeps the hub offline: run once with HF_HUB_OFFLINE=0 in the environment (the stage "
        "then downloads it), or name a local folder of the saved pipeline"
    )


# Hydra's override grammar (what `dvc exp run -S` parses): a bare word, or a quoted string
_BARE = re.compile(r"[A-Za-z_][A-Za-z0-9_./-]*")
_KEYWORDS = {"null", "true", "false", "nan", "inf"}
# inside quotes, backslashes are literal except a run of them before a quote or at the end: doubled there
_QUOTE_ESCAPES = re.compile(r'(\\*)("|$)')


def _escape(m: re.Match[str]) -> str:
    return m.group(1) * 2 + ("\\" + m.group(2) if m.group(2) else "")


def hydra_value(value: Any) -> str:
    """``value`` in Hydra's override grammar, so that DVC parses it back to the same YAML value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        if _BARE.fullmatch(value) and value.lower() not in _KEYWORDS:
            return value
        return '"' + _QUOTE_ESCAPES.sub(_escape, value) + '"'
    if isinstance(value, list | tuple):
        return "[" + ",".join(hydra_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{hydra_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no Hydra form for {type(value).__name__} {value!r}")


def hydra_override(key: str, value: Any) -> str:
    return f"{key}={hydra_value(value)}"


def check_round_trip(root: Path, overlay: str, changes: dict[str, Any], expected: dict[str, Any]) -> None:
    """DVC's own ``-S`` parser, on a copy of params.yaml, must give exactly the validated parameters.

    It would not for a float that DVC writes in a form YAML 1.1 reads as a string (``1e-06``).
    """
    from dvc.exceptions import DvcException
    from dvc.utils.hydra import apply_overrides

    overrides = [hydra_override(k, v) for k, v in changes.items()]
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp) / PARAMS_FILE
        scratch.write_text((root / PARAMS_FILE).read_text())
        try:
            apply_overrides(scratch, overrides)
        except (DvcException, ValueError) as err:  # a value Hydra's grammar reads otherwise (an interpolation)
            msg = str(err).splitlines()[0]
            raise ParamsError(
                f"{overlay}: `dvc exp run -S` refuses the set's values ({msg}): set them in {PARAMS_FILE}"
            ) from None
        got = flatten(read_params_yaml(scratch))
    bad = [k for k, v in flatten(expected).items() if got.get(k) != v]
    if bad:
        k = bad[0]
        raise ParamsError(
            f"{overlay}: `dvc exp run -S` would set {k} to {got.get(k)!r}, not {flatten(expected)[k]!r}: "
            f"set it in {PARAMS_FILE} instead"
        )


def run(root: Path, the_plan: Plan, name: str | None = None) -> int:
    """Run the plan's command in ``root`` (dvc.yaml regenerated first when the stages' code changed)."""
    from soundflow.pipeline import dag

    if dag.sync_dvc_yaml(root):
        print(f"soundflow: regenerated {dag.DVC_YAML} from flows/workflows/ (the stages' code changed)")
    os.environ.setdefault("SOUNDFLOW_PIPELINE_KEY", f"dvc-{uuid.uuid4().hex}")
    argv = the_plan.command(name)
    dvc = Path(sys.executable).with_name("dvc")  # the environment's dvc, as `soundflow repro` runs it
    return subprocess.call([str(dvc) if dvc.exists() else "dvc", *argv[1:]], cwd=root)
