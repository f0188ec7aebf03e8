"""MLflow tracking: one parent run per pipeline run, one nested run per stage.

Default store: ``sqlite:///<repo>/mlruns.db`` with artifacts in ``<repo>/mlartifacts``;
``MLFLOW_TRACKING_URI`` overrides. Under ``dvc repro`` every stage is its own
process; they find their common parent run through ``SOUNDFLOW_PIPELINE_KEY``
(set by ``soundflow run``/``soundflow repro``) or, for a bare ``dvc repro``,
through the process id and start time of the ``dvc`` process that runs them.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
from pathlib import Path
from typing import Any

PIPELINE_KEY_ENV = "SOUNDFLOW_PIPELINE_KEY"
TAG_KEY = "soundflow.pipeline_key"


def tracking_uri(root: Path) -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{(Path(root) / 'mlruns.db').resolve()}"


def git_commit(root: Path) -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def data_version(root: Path) -> str:
    """The DVC hash of the raw data (``data.dvc``'s md5 of data/raw): which data a run saw."""
    import yaml

    try:
        outs = yaml.safe_load((Path(root) / "data.dvc").read_text()).get("outs") or []
        return str(outs[0].get("md5") or outs[0].get("hash") or "unknown") if outs else "unknown"
    except (OSError, yaml.YAMLError, AttributeError):
        return "unknown"


def provenance_tags(root: Path, commit: str | None = None) -> dict[str, str]:
    """What a comparison of runs needs besides params and metrics: the code and the data they ran on."""
    return {"soundflow.git_commit": commit or git_commit(root), "soundflow.data_version": data_version(root)}


def _proc_stat(pid: int) -> tuple[str, int, str] | None:
    """(command name, parent pid, start time) of a process, from /proc (Linux only)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return cmdline, int(fields[1]), fields[19]


def pipeline_key() -> str | None:
    """Identity of the pipeline run this process belongs to, if any."""
    if os.environ.get(PIPELINE_KEY_ENV):
        return os.environ[PIPELINE_KEY_ENV]
    pid = os.getppid()
    for _ in range(8):  # dvc -> shell -> python: the dvc process is a few levels up
        info = _proc_stat(pid)
        if info is None or pid <= 1:
            return None
        cmdline, ppid, started = info
        if "dvc" in Path(cmdline.split(" ")[0]).name or " -m dvc " in f" {cmdline} " or "/dvc " in cmdline:
            return f"dvc-repro-{pid}-{started}"
        pid = ppid
    return None


def _numeric_leaves(d: Any, prefix: str = "") -> dict[str, float]:
    out: dict[str, float] = {}
    if isinstance(d, dict):
        for k, v in d.items():
            out.update(_numeric_leaves(v, f"{prefix}{k}/" if prefix or k else ""))
    elif isinstance(d, bool):
        pass
    elif isinstance(d, (int, float)) and math.isfinite(d):
        out[prefix.rstrip("/")] = float(d)
    return out


def metrics_from_json(path: Path) -> dict[str, float]:
    """Numeric leaves of a metrics JSON, nested keys joined by '/' (lists are not metrics)."""
    return _numeric_leaves(json.loads(Path(path).read_text()))


class Tracker:
    """Thin wrapper over the MLflow client, so stages never touch MLflow themselves."""

    def __init__(self, root: Path, experiment: str) -> None:
        import mlflow
        from mlflow.tracking import MlflowClient

        self.root = Path(root)
        uri = tracking_uri(root)
        mlflow.set_tracking_uri(uri)
        self.client = MlflowClient(uri)
        exp = self.client.get_experiment_by_name(experiment)
        if exp is None:
            artifacts = None
            if uri.startswith("sqlite:"):
                artifacts = (self.root / "mlartifacts").resolve().as_uri()
            self.experiment_id = self.client.create_experiment(experiment, artifact_location=artifacts)
        else:
            self.experiment_id = exp.experiment_id

    def pipeline_run(self, key: str, engine: str, params_flat: dict[str, Any], tags: dict[str, str]) -> str:
        """The parent run for ``key``: found by tag, or created."""
        found = self.client.search_runs(
            [self.experiment_id], filter_string=f"tags.`{TAG_KEY}` = '{key}'", max_results=1
        )
        if found:
            return found[0].info.run_id
        run = self.client.create_run(
            self.experiment_id, run_name=f"pipeline ({engine})", tags={TAG_KEY: key, "soundflow.engine": engine, **tags}
        )
        self._log_params(run.info.run_id, params_flat)
        return run.info.run_id

    def finish(self, run_id: str, ok: bool = True) -> None:
        self.client.set_terminated(run_id, "FINISHED" if ok else "FAILED")

    def stage_run(self, name: str, parent_id: str | None, params_flat: dict[str, Any], tags: dict[str, str]) -> str:
        all_tags = {"soundflow.stage": name, **tags}
        if parent_id:
            all_tags["mlflow.parentRunId"] = parent_id
        run = self.client.create_run(self.experiment_id, run_name=name, tags=all_tags)
        self._log_params(run.info.run_id, params_flat)
        return run.info.run_id

    def _log_params(self, run_id: str, params: dict[str, Any]) -> None:
        from mlflow.entities import Param

        items = [Param(k, json.dumps(v) if isinstance(v, (list, dict)) else str(v)) for k, v in params.items()]
        self._log_batched(run_id, "params", items)

    def log_metrics(self, run_id: str, metrics: dict[str, float], step: int = 0) -> None:
        import time

        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        self._log_batched(run_id, "metrics", [Metric(k, v, now, step) for k, v in metrics.items()])

    def log_history(self, run_id: str, csv: Path) -> None:
        """Each column of a per-epoch CSV as a metric series (step = epoch)."""
        import time

        import pandas as pd
        from mlflow.entities import Metric

        df = pd.read_csv(csv)
        now = int(time.time() * 1000)
        items = [
            Metric(f"history/{col}", float(v), now, int(step))
            for col in df.columns
            if col != "epoch"
            for step, v in zip(df["epoch"], df[col])
        ]
        self._log_batched(run_id, "metrics", items)

    def _log_batched(self, run_id: str, kind: str, items: list[Any]) -> None:
        # MLflow caps one log_batch call at 100 params and 1000 metrics
        size = 100 if kind == "params" else 500
        for i in range(0, len(items), size):
            self.client.log_batch(run_id, **{kind: items[i : i + size]})

    def log_artifact(self, run_id: str, path: Path, folder: str | None = None) -> None:
        self.client.log_artifact(run_id, str(path), artifact_path=folder)

    def log_text(self, run_id: str, text: str, name: str) -> None:
        self.client.log_text(run_id, text, name)

    def log_runs(self, parent_id: str, csv: Path) -> list[str]:
        """One nested run per row of a per-configuration CSV: ``name``; ``tag.*``, ``param.*``, ``metric.*`` columns.

        The tags carry what a comparison groups by (e.g. classifier, training set, fold), so the MLflow UI
        can filter and compare the configurations of one stage run side by side.
        """
        import pandas as pd

        df = pd.read_csv(csv)
        parent = self.client.get_run(parent_id)
        # not tagged soundflow.stage: that tag marks a stage's own run (a child of a pipeline run); these are
        # configurations inside one stage run, found by soundflow.configuration_of
        inherited = {k: v for k, v in parent.data.tags.items() if k == "git_commit"}
        inherited["soundflow.configuration_of"] = parent.data.tags.get("soundflow.stage", "")
        ids = []
        for _, row in df.iterrows():
            tags = {c[4:]: str(v) for c, v in row.items() if c.startswith("tag.")}
            run = self.client.create_run(
                self.experiment_id,
                run_name=str(row["name"]),
                tags={**inherited, **tags, "mlflow.parentRunId": parent_id},
            )
            self._log_params(run.info.run_id, {c[6:]: v for c, v in row.items() if c.startswith("param.")})
            metrics = {c[7:]: float(v) for c, v in row.items() if c.startswith("metric.") and pd.notna(v)}
            self.log_metrics(run.info.run_id, {k: v for k, v in metrics.items() if math.isfinite(v)})
            self.finish(run.info.run_id)
            ids.append(run.info.run_id)
        return ids
