"""What a workflow declares: its stages (code, parameters, inputs, outputs), its flow and its params sections.

Each workflow is one module of ``flows/workflows/`` holding a :class:`Workflow` named ``WORKFLOW``; the
registry (:mod:`soundflow.pipeline.stages`) finds them, and ``params.yaml``'s schema, ``dvc.yaml``, the Prefect
flows, the CLI's choices, ``soundflow list`` and the exports all come from it. Nothing shared is edited to add
a workflow (the way kedro's ``find_pipelines()`` finds a project's pipelines).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from soundflow.pipeline.code_deps import code_closure, source_digest

# Kubernetes resource quantities as a step requests them: CPUs ("2", "500m") and bytes ("4Gi", "512Mi")
_CPU = re.compile(r"\d+(\.\d+)?m?")
_MEMORY = re.compile(r"\d+(\.\d+)?([KMGT]i?)?")
TRAINING_LOOP = "soundflow/training.py"  # a stage whose code reaches it trains a model
TIMEOUT_MINUTES = 4 * 60  # a stage's default limit under Prefect (Stage.timeout_seconds)
TRAINING_TIMEOUT_MINUTES = 24 * 60
PYTHON = ".venv/bin/python"  # the stage commands' interpreter, relative to the root where DVC runs them


class Curve(NamedTuple):
    """A CSV output drawn as lines: ``ys`` against ``x`` (DVC's top-level plots; ``dvc plots show``); as points
    (DVC's ``scatter`` template) where rows are not one series in x order, e.g. one per configuration."""

    path: str
    x: str
    ys: tuple[str, ...]
    template: str = "linear"


@dataclass(frozen=True)
class Stage:
    """One stage: ``run(params, root)`` does the work; the rest says what it reads and writes.

    ``run`` gets a view of the parameters that holds only what ``params`` declares
    (:mod:`soundflow.pipeline.params_view`): reading anything else fails, so the declaration that DVC keys
    the stage on is the set the stage reads.

    Its code dependencies are not declared: :attr:`code_deps` derives them from the imports of ``run``
    (:mod:`soundflow.pipeline.code_deps`), so no edit of the task code can leave a stage "up to date". The
    workflow module that declares it is not among them, although ``run`` lives there: as a dependency, any edit
    of one row would rerun every stage of the workflow. A row's declarations reach DVC through ``dvc.yaml``
    anyway, and the source of ``run`` (and of any function of that module it calls) is hashed into the
    stage's command (``--code``), so an edit of it reruns exactly the stages that execute it.
    """

    name: str
    desc: str
    run: Callable[[Any, Path], object]
    deps: tuple[str, ...]
    params: tuple[str, ...]
    outs: tuple[str, ...]
    metrics: tuple[str, ...] = ()  # JSON, small: logged to MLflow as metrics
    plots: tuple[str, ...] = ()  # PNG/CSV, small: logged to MLflow as artifacts
    artifacts: tuple[str, ...] = ()  # outputs also logged to MLflow as artifacts (checkpoints, skip lists)
    history: str | None = None  # per-epoch CSV logged to MLflow as metric series
    runs: str | None = None  # CSV of per-configuration records, one nested MLflow run per row (tracking.log_runs)
    flow: str = ""  # the workflow (and Prefect flow) it belongs to: set by its Workflow
    # outs DVC must not delete before rerunning the stage, for stages that add to what an earlier run left
    persist: tuple[str, ...] = ()
    curves: tuple[Curve, ...] = ()  # which of its CSV plots are lines, with their axes
    # for a stage whose checkpoint is registered: the evaluation's metric that ranks it (a key, or its last
    # parts: "deep/mel/macro_auprc"), when not its workflow's headline (soundflow register)
    ranked_by: str | None = None
    # what a cluster step of the stage requests (Kubernetes quantities; soundflow/pipeline/export/): the
    # scheduler's floor, not a limit. gpu None: one where the stage's code reaches the training loop (Stage.trains)
    cpu: str = "2"
    memory: str = "4Gi"
    gpu: int | None = None
    # Prefect's limit on one run of the stage (flows/stage_task.py); None: by its work (timeout_seconds)
    timeout_minutes: float | None = None

    def __post_init__(self) -> None:
        if not set(self.persist) <= set(self.outs):
            raise ValueError(f"{self.name}: persist {sorted(set(self.persist) - set(self.outs))} not among its outs")
        if not {c.path for c in self.curves} <= set(self.plots):
            raise ValueError(f"{self.name}: a curve's file must be one of its plots")
        if not (_CPU.fullmatch(self.cpu) and _MEMORY.fullmatch(self.memory)):
            raise ValueError(f"{self.name}: cpu {self.cpu!r} / memory {self.memory!r} are not Kubernetes quantities")

    @property
    def cmd(self) -> str:
        # the project's interpreter, not whatever `python` PATH holds: DVC deletes a stage's outputs before it
        # runs the command, so `.venv/bin/dvc repro` without the venv on PATH must not find another python.
        # --code: a digest of ``run`` and the helpers here it calls, so editing them reruns the stage (see above)
        return f"{PYTHON} -m soundflow stage {self.name} --code {self.run_digest}"

    @property
    def timeout_seconds(self) -> float:
        """The stage's time limit under Prefect: its own, or a day where it trains through the shared loop
        (every fold of a full-size dataset on a CPU) and four hours otherwise. A hung stage ends; a slow one
        at full size does not."""
        if self.timeout_minutes is not None:
            return 60.0 * self.timeout_minutes
        return 60.0 * (TRAINING_TIMEOUT_MINUTES if self.trains else TIMEOUT_MINUTES)

    @property
    def trains(self) -> bool:
        """Whether the stage's code reaches the shared training loop (``soundflow.training.fit``): it trains a
        model, or runs one it trained. Derived from the import closure, never a hand list."""
        return TRAINING_LOOP in self.code_deps

    @property
    def run_digest(self) -> str:
        return source_digest(self.run)

    @property
    def code_deps(self) -> tuple[str, ...]:
        """The repository's .py files that ``run`` imports, transitively: a change to any reruns the stage."""
        return code_closure(self.run, table_module=self.run.__module__)

    @property
    def all_outs(self) -> tuple[str, ...]:
        return self.outs + self.metrics + self.plots


@dataclass(frozen=True)
class Workflow:
    """One workflow: its name (that of its module, its Prefect flow and, where it has one, its params section),
    its stages, the params sections it owns and the metric its runs are judged by."""

    name: str
    doc: str  # one line: the flow's description in Prefect and `soundflow list`
    stages: tuple[Stage, ...]
    sections: Mapping[str, type] = field(default_factory=dict)  # params.yaml section -> its pydantic model
    headline: str | None = None  # the metric its evaluation is ranked by (higher is better), None: no model
    # short MLflow names for its evaluation's metrics, the columns a user sorts runs by (tracking.headline_names):
    # name -> flattened metrics key, '*' standing for one key segment, e.g. {"mIoU": "miou"}
    headlines: Mapping[str, str] = field(default_factory=dict)
    # the metrics file its evaluation writes (the headlines' file): DVC's tables (`dvc metrics show`, `dvc exp
    # show`) list the results files first and the stages' summaries (features, training) after them
    results: str | None = None
    aliases: tuple[str, ...] = ()  # names it had before: still accepted by the CLI
    check: Callable[[Any], None] | None = None  # a rule across sections, run on the composed parameters

    def __post_init__(self) -> None:
        object.__setattr__(self, "stages", tuple(dataclasses.replace(s, flow=self.name) for s in self.stages))
        if self.results is not None and not any(self.results in s.metrics for s in self.stages):
            raise ValueError(f"{self.name}: results {self.results!r} is none of its stages' metrics")
