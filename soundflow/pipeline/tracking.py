"""MLflow tracking: one parent run per pipeline run, one nested run per stage.

Default store: ``sqlite:///<repo>/mlruns.db`` with artifacts in ``<repo>/mlartifacts``;
``MLFLOW_TRACKING_URI`` overrides. Under ``dvc repro`` every stage is its own
process; they find their common parent run through ``SOUNDFLOW_PIPELINE_KEY``
(set by ``soundflow run``/``soundflow repro``) or, for a bare ``dvc repro``,
through the process id and start time of the ``dvc`` process that runs them.

A tracking server that does not answer never stops nor stalls a run: it is probed with a short bound first,
MLflow's own retries are bounded, and every call it cannot take goes to the offline journal
(:mod:`soundflow.pipeline.ops.sync`) that ``soundflow sync`` -- or the next run that finds the server -- sends.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

PIPELINE_KEY_ENV = "SOUNDFLOW_PIPELINE_KEY"
# set by `soundflow repro` for its `dvc repro`: each stage process keeps its tracking calls in the journal without
# importing MLflow (about 2.5 CPU s and 170 MB per stage), and `soundflow repro` sends them all at the end
DEFER_ENV = "SOUNDFLOW_TRACKING_DEFERRED"
DEFERRED = "deferred"  # the journal note's reason for calls kept while the server was not even asked
TAG_KEY = "soundflow.pipeline_key"
PROBE_SECONDS = 2.5  # the reachability check at the start of a run
# MLflow retries a failed request 7 times with a factor-2 backoff (minutes against a closed port) and waits
# 120 s per request; bounded so that a server going away mid-run costs seconds once. Users may override.
MLFLOW_BOUNDS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0.5",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "15",
    # artifacts written straight to S3 by the client (boto3): a few attempts with exponential backoff
    "AWS_MAX_ATTEMPTS": "3",
    "AWS_RETRY_MODE": "standard",
}


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


# what a run itself changes in the working tree, each recorded elsewhere: the parameters (logged as params; `dvc
# exp run -S` writes them into params.yaml), the lock and the .gitignore entries DVC writes as stages finish, the
# data's hash (soundflow.data_version). An edit anywhere else is code the commit does not hold.
RUN_WRITES = (":(exclude)params.yaml", ":(exclude)dvc.lock", ":(exclude,glob)**/.gitignore", ":(exclude,glob)**/*.dvc")


def git_dirty(root: Path) -> str:
    """``"true"`` when the working tree holds edits (tracked or new files) the commit does not, besides what a run
    writes itself (:data:`RUN_WRITES`); ``"false"`` when clean; ``"unknown"`` outside a git repository."""
    try:
        out = subprocess.run(
            ["git", "status", "--porcelain", "--", ".", *RUN_WRITES], cwd=root, capture_output=True, text=True,
            timeout=10,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if out.returncode != 0:
        return "unknown"
    return "true" if out.stdout.strip() else "false"


def provenance_tags(root: Path, commit: str | None = None) -> dict[str, str]:
    """What a comparison of runs needs besides params and metrics: the code (its commit, and whether the working
    tree differed from it) and the data they ran on."""
    return {
        "soundflow.git_commit": commit or git_commit(root),
        "soundflow.git_dirty": git_dirty(root),
        "soundflow.data_version": data_version(root),
    }


def workflow_experiment(prefix: str, workflow: str) -> str:
    """The MLflow experiment of a workflow's runs: ``<tracking.experiment>/<workflow>`` (``soundflow/aed``), so
    each workflow's runs are compared among themselves and two projects on one server stay apart."""
    return f"{prefix}/{workflow}" if workflow else prefix


def headline_names(metrics: dict[str, float], headlines: Mapping[str, str]) -> dict[str, float]:
    """``metrics`` under the short names a workflow declares (``Workflow.headlines``: name -> flattened key,
    ``*`` standing for one key segment, carried into the name in order): ``{"mIoU": "miou"}``,
    ``{"top1_agreement/*/*": "top1/*/*/teacher_top1_agreement"}``."""
    from soundflow.metric_files import matches  # the match the metrics files order their headlines by

    out: dict[str, float] = {}
    for short, pattern in headlines.items():
        want = pattern.split("/")
        for key, value in metrics.items():
            if matches(key, pattern):
                caught = iter([p for w, p in zip(want, key.split("/")) if w == "*"])
                out["/".join(next(caught) if s == "*" else s for s in short.split("/"))] = value
    return out


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


# the rest of a pipeline run stays offline once a call failed: (URI, pipeline key) -> why; and the notes said
_OFFLINE: dict[tuple[str, str], str] = {}
_SAID: set[tuple[str, str]] = set()


def configure_bounds() -> None:
    """Bounded retries and timeouts for MLflow's HTTP calls and boto3's S3 calls (values already set are kept)."""
    for key, value in MLFLOW_BOUNDS.items():
        os.environ.setdefault(key, value)


def redact(uri: str) -> str:
    """``uri`` without credentials, query or fragment: what may be printed or written."""
    parts = urllib.parse.urlsplit(uri)
    if parts.scheme not in ("http", "https"):
        return uri
    netloc = (parts.hostname or "") + (f":{parts.port}" if parts.port else "")
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _reason(err: BaseException) -> str:
    """A few words on why a call failed ('connection refused', 'timed out'), with no URL credentials."""
    text = str(getattr(err, "reason", None) or err)
    found = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
    if found:
        return found.group(1).strip().rstrip(".").lower()
    if isinstance(err, TimeoutError) or "timed out" in text.lower():
        return "timed out"
    first = text.splitlines()[0] if text.strip() else type(err).__name__
    first = re.sub(r':?\s*"?\w+://[^\s"]*"?', "", first)  # the URL (a bucket, a run id, a login) says nothing new
    return first.strip().rstrip(".")[:160] or type(err).__name__


def unreachable(uri: str, timeout: float = PROBE_SECONDS) -> str | None:
    """Why the tracking server at ``uri`` does not answer within ``timeout`` s; None when it does (or is local)."""
    if urllib.parse.urlsplit(uri).scheme not in ("http", "https"):
        return None
    try:
        with urllib.request.urlopen(redact(uri).rstrip("/") + "/health", timeout=timeout):
            return None
    except urllib.error.HTTPError as err:  # a status is an answer (a login, a proxy), unless the server is failing
        return f"it answers HTTP {err.code}" if err.code >= 500 else None
    except (urllib.error.URLError, OSError, ValueError) as err:
        return _reason(err)


def experiment_id(client: Any, uri: str, root: Path, name: str) -> str:
    """The id of experiment ``name`` in ``client``'s store, created if needed (artifacts beside a SQLite store)."""
    exp = client.get_experiment_by_name(name)
    if exp is not None:
        return str(exp.experiment_id)
    artifacts = (Path(root) / "mlartifacts").resolve().as_uri() if uri.startswith("sqlite:") else None
    return str(client.create_experiment(name, artifact_location=artifacts))


def _errors() -> tuple[type[BaseException], ...]:
    """What a tracking call raises when the store fails: MLflow's errors, requests' (OSErrors), and boto3's
    when the client writes artifacts straight to S3."""
    from mlflow.exceptions import MlflowException

    found: tuple[type[BaseException], ...] = (MlflowException, OSError)
    try:
        from boto3.exceptions import Boto3Error
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:
        return found
    return (*found, Boto3Error, BotoCoreError, ClientError)


def _subject(uri: str, err: BaseException | None) -> str:
    if err is not None and type(err).__module__.split(".")[0] in ("boto3", "botocore"):
        return "the S3 artifact store of MLflow"
    return f"MLflow at {redact(uri)}"


class _QuietRetries:
    """urllib3 warns on every retry it makes; the one note the tracker prints says what matters."""

    def __enter__(self) -> None:
        self.logger = logging.getLogger("urllib3.connectionpool")
        self.level = self.logger.level
        self.logger.setLevel(logging.ERROR)

    def __exit__(self, *exc: object) -> None:
        self.logger.setLevel(self.level)


def tag_stage_hashes(root: Path) -> None:
    """The ``dvc_stage_hash`` tags that deferred stage runs asked for, from dvc.lock as DVC recorded each stage
    right after it ran (the run-cache key of its lock entry): journalled as tags, sent with the rest."""
    from soundflow.pipeline import dvc_state
    from soundflow.pipeline.ops.sync import Journal

    journal = Journal(root)
    records = journal.records()
    # a journal kept from an earlier send (the server was away) is tagged already: dvc.lock has moved on since
    tagged = {r["run"] for r in records if r.get("op") == "log_batch" and "dvc_stage_hash" in dict(r.get("tags", []))}
    for r in records:
        if r.get("op") == "stage_hash" and r["run"] not in tagged:
            if key := dvc_state.locked_stage_hash(Path(root), r["stage"]):
                journal.append({"op": "log_batch", "run": r["run"], "tags": [["dvc_stage_hash", key]]})


def _declared_headlines(stage: str) -> Mapping[str, str]:
    """The short metric names of ``stage``'s workflow (none for a name outside the stage table)."""
    from soundflow.pipeline.stages import BY_NAME, workflow

    found = BY_NAME.get(stage)
    return workflow(found.flow).headlines if found is not None else {}


def _entities(kind: str, rows: list[list[Any]]) -> list[Any]:
    from mlflow.entities import Metric, Param

    return [Param(*r) for r in rows] if kind == "params" else [Metric(*r) for r in rows]


class Tracker:
    """Thin wrapper over the MLflow client, so stages never touch MLflow themselves.

    When the store does not answer (at the start, or any call later), the rest of the run's calls go to the
    offline journal, with one note; a tracking failure never fails nor stalls a stage.
    """

    def __init__(self, root: Path, experiment: str) -> None:
        from soundflow.pipeline.ops.sync import Journal

        configure_bounds()
        self.root = Path(root)
        self.experiment = experiment
        self.uri = tracking_uri(root)
        self.journal = Journal(self.root)
        self.experiment_id: str | None = None
        self.offline: str | None = None  # why the calls go to the journal
        self._tags: dict[str, dict[str, str]] = {}
        self._headlines: dict[str, Mapping[str, str]] = {}  # run id -> its workflow's short metric names
        key = pipeline_key()
        # a pipeline run found offline stays offline: one probe and one note, not one per stage
        self._state = (self.uri, key) if key else None
        self.client: Any = None
        if os.environ.get(DEFER_ENV, "") not in ("", "0"):
            self._defer()
            return
        import mlflow
        from mlflow.tracking import MlflowClient

        mlflow.set_tracking_uri(self.uri)
        self.client = MlflowClient(self.uri)
        why = _OFFLINE.get(self._state) if self._state else None
        why = why or unreachable(self.uri)
        if why is None:
            try:
                with _QuietRetries():
                    self._send_pending()
                    # created with its first run: a tracker that only sends what was kept leaves no empty experiment
                    found = self.client.get_experiment_by_name(experiment)
                    self.experiment_id = str(found.experiment_id) if found is not None else None
            except _errors() as err:
                why = _reason(err)
        if why:
            self._go_offline(why, None, at_start=True)

    def _defer(self) -> None:
        """Every call to the journal, MLflow never imported: the process that set DEFER_ENV sends them."""
        self.offline = DEFERRED
        if redact(self.uri) not in self.journal.targets():  # what tells the sender where the calls go
            self._journal(lambda: {"op": "note", "pipeline": None, "target": redact(self.uri), "why": DEFERRED})

    @property
    def deferred(self) -> bool:
        return self.offline == DEFERRED

    def stage_hash_later(self, run_id: str, stage: str) -> None:
        """A deferred stage run's ``dvc_stage_hash`` tag, to be read from dvc.lock once DVC has recorded the stage
        (:func:`tag_stage_hashes`): hashing its dependencies again costs the stage process about 0.7 CPU s."""
        self._journal(lambda: {"op": "stage_hash", "run": run_id, "stage": stage})

    def _send_pending(self) -> None:
        """Runs kept offline for this server, sent now that it answers."""
        from soundflow.pipeline.ops import sync

        if not (self.journal.pending() and redact(self.uri) in self.journal.targets()):
            return
        ids: dict[str, str] = {}

        def exp(name: str) -> str:
            return ids.setdefault(name, experiment_id(self.client, self.uri, self.root, name))

        done = sync.replay(self.journal, self.client, exp, lambda: unreachable(self.uri))
        print(f"soundflow: sent {done.runs} run(s) kept offline to MLflow at {redact(self.uri)}", file=sys.stderr)

    def _go_offline(self, why: str, err: BaseException | None, at_start: bool) -> None:
        self.offline = why
        if self._state:
            _OFFLINE[self._state] = why
            if self._state in _SAID or self.journal.noted(self._state[1]):
                _SAID.add(self._state)
                return
            _SAID.add(self._state)
        state = "is unreachable" if at_start else "stopped answering"
        print(
            f"soundflow: note: {_subject(self.uri, err)} {state} ({why}); the run goes on and its params, "
            f"metrics and artifacts are kept in {self.journal.dir} for `soundflow sync`",
            file=sys.stderr,
            flush=True,
        )
        key = self._state[1] if self._state else None
        self._journal(lambda: {"op": "note", "pipeline": key, "target": redact(self.uri), "why": why})

    def _journal(self, record: Callable[[], dict[str, Any]]) -> None:
        try:
            self.journal.append(record())
        except OSError as err:  # a full disk loses this record, never the run
            print(f"soundflow: note: a tracking call could not be kept in {self.journal.dir}: {err}", file=sys.stderr)

    def _call(self, online: Callable[[], Any], offline: Callable[[], dict[str, Any]] | None) -> Any:
        """``online()`` while the store answers; else (or when it fails now) ``offline()`` goes to the journal."""
        if self.offline is None:
            try:
                with _QuietRetries():
                    return online()
            except _errors() as err:
                self._go_offline(_reason(err), err, at_start=False)
        if offline is not None:
            self._journal(offline)
        return None

    def _create_run(self, run_name: str, tags: dict[str, str], find_by: str | None = None) -> str:
        from soundflow.pipeline.ops.sync import new_run_id

        local, start = new_run_id(), int(time.time() * 1000)
        run_id = self._call(
            lambda: self.client.create_run(self._experiment(), start, tags, run_name).info.run_id,
            lambda: {
                "op": "create_run",
                "run": local,
                "experiment": self.experiment,
                "run_name": run_name,
                "tags": tags,
                "start_time": start,
                "find_by": find_by,
            },  # fmt: skip
        )
        run_id = run_id or local
        self._tags[run_id] = dict(tags)
        return run_id

    def _experiment(self) -> str:
        if self.experiment_id is None:
            self.experiment_id = experiment_id(self.client, self.uri, self.root, self.experiment)
        return self.experiment_id

    def search_runs(self, filter_string: str, order_by: list[str] | None = None, max_results: int = 1) -> list[Any]:
        """Runs of this experiment on the server; none while offline or before its first run."""
        if self.offline is None and self.experiment_id is None:
            return []
        found = self._call(
            lambda: self.client.search_runs(
                [self.experiment_id], filter_string, order_by=order_by, max_results=max_results
            ),  # fmt: skip
            None,
        )
        return list(found or [])

    def pipeline_run(self, key: str, engine: str, params_flat: dict[str, Any], tags: dict[str, str]) -> str:
        """The parent run for ``key``: found by tag (on the server, or in the offline journal), or created."""
        found = self.search_runs(f"tags.`{TAG_KEY}` = '{key}'")
        if found:
            return str(found[0].info.run_id)
        if self.offline and (local := self.journal.find_run(TAG_KEY, key, self.experiment)):
            return local
        all_tags = {TAG_KEY: key, "soundflow.engine": engine, **tags}
        run_id = self._create_run(f"pipeline ({engine})", all_tags, find_by=TAG_KEY)
        self._log_params(run_id, params_flat)
        return run_id

    def finish(self, run_id: str, ok: bool = True) -> None:
        status, end = ("FINISHED" if ok else "FAILED"), int(time.time() * 1000)
        self._call(
            lambda: self.client.set_terminated(run_id, status, end),
            lambda: {"op": "set_terminated", "run": run_id, "status": status, "end_time": end},
        )

    def stage_run(self, name: str, parent_id: str | None, params_flat: dict[str, Any], tags: dict[str, str]) -> str:
        all_tags = {"soundflow.stage": name, **tags}
        if parent_id:
            all_tags["mlflow.parentRunId"] = parent_id
        run_id = self._create_run(name, all_tags)
        self._headlines[run_id] = _declared_headlines(name)
        self._log_params(run_id, params_flat)
        return run_id

    def _log_params(self, run_id: str, params: dict[str, Any]) -> None:
        items = [[k, json.dumps(v) if isinstance(v, (list, dict)) else str(v)] for k, v in params.items()]
        self._log_batched(run_id, "params", items)

    def log_metrics(self, run_id: str, metrics: dict[str, float], step: int = 0) -> None:
        """``metrics``, and those its stage's workflow declares a short name for under that name too."""
        metrics = {**metrics, **headline_names(metrics, self._headlines.get(run_id, {}))}
        now = int(time.time() * 1000)
        self._log_batched(run_id, "metrics", [[k, v, now, step] for k, v in metrics.items()])

    def log_history(self, run_id: str, csv: Path) -> None:
        """Each column of a per-epoch CSV as a metric series (step = epoch)."""
        import pandas as pd

        df = pd.read_csv(csv)
        now = int(time.time() * 1000)
        items = [
            [f"history/{col}", float(v), now, int(step)]
            for col in df.columns
            if col != "epoch"
            for step, v in zip(df["epoch"], df[col])
        ]
        self._log_batched(run_id, "metrics", items)

    def _log_batched(self, run_id: str, kind: str, rows: list[list[Any]]) -> None:
        """``rows``: [key, value] params or [key, value, timestamp, step] metrics, as the journal keeps them."""
        # MLflow caps one log_batch call at 100 params and 1000 metrics
        size = 100 if kind == "params" else 500
        for i in range(0, len(rows), size):
            chunk = rows[i : i + size]
            self._call(
                lambda chunk=chunk: self.client.log_batch(run_id, **{kind: _entities(kind, chunk)}),
                lambda chunk=chunk: {"op": "log_batch", "run": run_id, kind: chunk},
            )

    def log_artifact(self, run_id: str, path: Path, folder: str | None = None) -> None:
        self._call(
            lambda: self.client.log_artifact(run_id, str(path), artifact_path=folder),
            lambda: {"op": "log_artifact", "run": run_id, "file": self.journal.copy_artifact(path), "folder": folder},
        )

    def log_text(self, run_id: str, text: str, name: str) -> None:
        def offline() -> dict[str, Any]:
            file, folder = self.journal.write_text(text, name)
            return {"op": "log_artifact", "run": run_id, "file": file, "folder": folder}

        self._call(lambda: self.client.log_text(run_id, text, name), offline)

    def log_runs(self, parent_id: str, csv: Path) -> list[str]:
        """One nested run per row of a per-configuration CSV: ``name``; ``tag.*``, ``param.*``, ``metric.*`` columns.

        The tags carry what a comparison groups by (e.g. classifier, training set, fold), so the MLflow UI
        can filter and compare the configurations of one stage run side by side.
        """
        import pandas as pd

        df = pd.read_csv(csv)
        parent_tags = self._tags.get(parent_id)
        if parent_tags is None:
            parent_tags = self._call(lambda: self.client.get_run(parent_id).data.tags, None) or {}
        # not tagged soundflow.stage: that tag marks a stage's own run (a child of a pipeline run); these are
        # configurations inside one stage run, found by soundflow.configuration_of
        inherited = {k: v for k, v in parent_tags.items() if k == "git_commit"}
        inherited["soundflow.configuration_of"] = parent_tags.get("soundflow.stage", "")
        ids = []
        for _, row in df.iterrows():
            tags = {c[4:]: str(v) for c, v in row.items() if c.startswith("tag.")}
            run_id = self._create_run(str(row["name"]), {**inherited, **tags, "mlflow.parentRunId": parent_id})
            self._log_params(run_id, {c[6:]: v for c, v in row.items() if c.startswith("param.")})
            metrics = {c[7:]: float(v) for c, v in row.items() if c.startswith("metric.") and pd.notna(v)}
            self.log_metrics(run_id, {k: v for k, v in metrics.items() if math.isfinite(v)})
            self.finish(run_id)
            ids.append(run_id)
        return ids
