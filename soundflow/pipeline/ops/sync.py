"""The offline tracking journal: MLflow calls kept on disk while the server is away, and their replay.

When the tracking server does not answer, ``tracking.Tracker`` appends each call it would have made
(a run created, params/metrics/tags logged, an artifact, a run's end) as one JSON line of
``.soundflow/offline/journal.jsonl``; artifact files are copied next to it. Runs created offline get a local id
(``offline-...``) that the replay maps to the id the server gives them; a call on a run that was created on the
server before it went away keeps the server's id. ``soundflow sync`` (or the next run that finds the server
answering) replays the journal in order and deletes it once every call has been sent.

What is written is what MLflow would have received (params, metrics, tags, artifacts) and nothing else: never
the tracking URI's credentials nor any environment variable.
"""

from __future__ import annotations

import fcntl
import json
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from soundflow.errors import UserError

OFFLINE_DIR = Path(".soundflow") / "offline"
LOCAL_PREFIX = "offline-"
PARENT_TAG = "mlflow.parentRunId"


class TrackingUnreachable(UserError, ConnectionError):
    """The tracking server does not answer: the journal is kept for a later sync."""


@dataclass
class SyncResult:
    runs: int = 0  # runs created on the server
    calls: int = 0  # calls sent
    failed: list[str] = field(default_factory=list)  # why calls the server refused were not sent


def new_run_id() -> str:
    return LOCAL_PREFIX + uuid.uuid4().hex


class Journal:
    """The append-only journal of one workspace, serialised between processes by a file lock."""

    def __init__(self, root: Path) -> None:
        self.dir = Path(root) / OFFLINE_DIR
        self.path = self.dir / "journal.jsonl"
        self.sent_path = self.dir / "sent.jsonl"

    @contextmanager
    def locked(self) -> Iterator[None]:
        self.dir.mkdir(parents=True, exist_ok=True)
        with (self.dir / "lock").open("a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)  # stage processes of one `dvc repro` and a `soundflow sync` take turns
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def pending(self) -> bool:
        return self.path.is_file() and self.path.stat().st_size > 0

    def append(self, record: dict[str, Any]) -> None:
        line = json.dumps({"id": uuid.uuid4().hex, **record}, default=str) + "\n"
        with self.locked(), self.path.open("a", encoding="utf-8") as fh:
            fh.write(line)

    def copy_artifact(self, src: Path) -> str:
        """A copy of ``src`` under the journal (its name kept: MLflow names the artifact after it)."""
        rel = Path("artifacts") / uuid.uuid4().hex / Path(src).name
        (self.dir / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, self.dir / rel)
        return rel.as_posix()

    def write_text(self, text: str, name: str) -> tuple[str, str | None]:
        """``text`` as a file of the journal; (its path, the artifact folder ``name`` puts it in)."""
        rel = Path("artifacts") / uuid.uuid4().hex / Path(name).name
        (self.dir / rel).parent.mkdir(parents=True, exist_ok=True)
        (self.dir / rel).write_text(text, encoding="utf-8")
        folder = Path(name).parent.as_posix()
        return rel.as_posix(), None if folder == "." else folder

    def records(self) -> list[dict[str, Any]]:
        return _read_jsonl(self.path)

    def find_run(self, tag: str, value: str, experiment: str) -> str | None:
        """The id of a run created in the journal in ``experiment`` with ``tag`` = ``value`` (a pipeline's parent
        run: one per workflow's experiment)."""
        for r in self.records():
            made = r.get("op") == "create_run" and r.get("experiment") == experiment
            if made and r.get("tags", {}).get(tag) == value:
                return str(r["run"])
        return None

    def targets(self) -> set[str]:
        """The tracking URIs (without credentials) the journalled runs were meant for."""
        return {str(r["target"]) for r in self.records() if r.get("op") == "note" and r.get("target")}

    def noted(self, pipeline: str) -> bool:
        return any(r.get("op") == "note" and r.get("pipeline") == pipeline for r in self.records())

    def clear(self) -> None:
        for p in (self.path, self.sent_path):
            p.unlink(missing_ok=True)
        shutil.rmtree(self.dir / "artifacts", ignore_errors=True)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:  # the last line of a process killed while writing it
            continue
    return out


class _Replay:
    """Sends records to ``client``, mapping local run ids to the server's."""

    def __init__(self, journal: Journal, client: Any, experiment_id: Callable[[str], str]) -> None:
        self.journal, self.client, self.experiment_id = journal, client, experiment_id
        self.ids: dict[str, str] = {}
        self.done: set[str] = set()
        for s in _read_jsonl(journal.sent_path):
            self.done.add(s["id"])
            if s.get("local"):
                self.ids[s["local"]] = s["remote"]

    def run_id(self, local: str) -> str:
        return self.ids.get(local, local)  # a run made on the server before it went away keeps its id

    def send(self, r: dict[str, Any]) -> dict[str, Any]:
        """Sends one record; what the sent-log keeps of it."""
        from mlflow.entities import Metric, Param, RunTag

        op, done = r["op"], {"id": r["id"]}
        if op == "create_run":
            tags = {k: (self.run_id(v) if k == PARENT_TAG else v) for k, v in r["tags"].items()}
            exp = self.experiment_id(r["experiment"])
            found = None
            if r.get("find_by"):  # a pipeline's parent run: another process may have made it on the server
                key = r["find_by"]
                hits = self.client.search_runs([exp], filter_string=f"tags.`{key}` = '{tags[key]}'", max_results=1)
                found = hits[0].info.run_id if hits else None
            remote = found or self.client.create_run(exp, r.get("start_time"), tags, r.get("run_name")).info.run_id
            done.update(local=r["run"], remote=remote, created=found is None)
        elif op == "log_batch":
            self.client.log_batch(
                self.run_id(r["run"]),
                metrics=[Metric(k, v, ts, step) for k, v, ts, step in r.get("metrics", [])],
                params=[Param(k, v) for k, v in r.get("params", [])],
                tags=[RunTag(k, v) for k, v in r.get("tags", [])],
            )
        elif op == "log_artifact":
            self.client.log_artifact(self.run_id(r["run"]), str(self.journal.dir / r["file"]), r.get("folder"))
        elif op == "set_terminated":
            self.client.set_terminated(self.run_id(r["run"]), r["status"], r.get("end_time"))
        return done


def replay(
    journal: Journal, client: Any, experiment_id: Callable[[str], str], reachable: Callable[[], str | None]
) -> SyncResult:
    """Sends the journal's unsent calls in order; deletes it when all are sent.

    A failing call with the server gone (``reachable()`` says why) stops the replay with
    :class:`TrackingUnreachable`, keeping what is left; a call the server refuses is skipped and kept.
    """
    result = SyncResult()
    with journal.locked():
        rp = _Replay(journal, client, experiment_id)
        with journal.sent_path.open("a", encoding="utf-8") as sent:
            for r in journal.records():
                if r["id"] in rp.done or r.get("op") == "note":
                    continue
                try:
                    done = rp.send(r)
                except Exception as err:  # noqa: BLE001 -- the server's answer decides: gone, or this call refused
                    why = reachable()
                    if why is not None:
                        raise TrackingUnreachable(
                            f"MLflow stopped answering during the sync ({why}); the calls not sent stay in "
                            f"{journal.dir} for the next `soundflow sync`"
                        ) from err
                    result.failed.append(f"{r['op']} of run {r.get('run')}: {str(err).splitlines()[0][:200]}")
                    continue
                sent.write(json.dumps(done) + "\n")
                sent.flush()
                if done.get("local"):
                    rp.ids[done["local"]] = done["remote"]
                result.runs += int(bool(done.get("created")))
                result.calls += 1
        if not result.failed:
            journal.clear()
    return result
