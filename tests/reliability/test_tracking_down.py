"""Tracking and remote down, at the start and mid-run: the computation goes on, every wait is bounded, one note
says what happens, the calls are kept in the offline journal, and ``soundflow sync`` (or the next run) sends them.

Real servers throughout: a closed port, the session's MLflow server (SQL + artifacts on S3), moto's S3 server
and an MLflow server of the test's own, stopped between two tracking calls.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from soundflow.pipeline import runner
from soundflow.pipeline.ops import servers, sync_cli
from soundflow.pipeline.ops.sync import Journal
from soundflow.pipeline.tracking import Tracker
from soundflow.pipeline.workspace import TINY, copy_project
from tests.helpers.paths import ROOT
from tests.helpers.servers import Running, base_env, boto3_client

pytestmark = pytest.mark.slow  # seconds or more: outside the fast suite (`make test-fast`)

SENTINEL = "sentinel-pw-7d1e"  # a login in the tracking URI / an S3 key: never written nor printed
STAGE = "urban_synth"  # the smallest stage: a few seconds at these sizes


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return copy_project(
        ROOT, tmp_path_factory.mktemp("tracking-down") / "project", {**TINY, "data.urban_synth.clips_per_class": 1}
    )


def closed_uri() -> str:
    """A tracking URI on a local port nobody listens on (connection refused at once), with a login in it."""
    return f"http://soundflow:{SENTINEL}@127.0.0.1:{servers.free_port()}"


def notes(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("soundflow: note:")]


def journal_text(root: Path) -> str:
    d = Journal(root).dir
    return "".join(p.read_text(errors="replace") for p in d.rglob("*") if p.is_file()) if d.exists() else ""


def test_stage_runs_with_tracking_unreachable_and_sync_sends_it(
    board, project: Path, mlflow_server: Running, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    board.tried("fault")
    board.tried("secret")
    uri, tag = closed_uri(), f"unreachable-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.delenv("SOUNDFLOW_PIPELINE_KEY", raising=False)
    t0 = time.monotonic()
    runner.execute(STAGE, project, engine="dvc", stage_hash=tag)
    took = time.monotonic() - t0
    out = capsys.readouterr()
    records = Journal(project).records()
    ops = [r["op"] for r in records]
    stage_seconds = next(m[1] for r in records if r["op"] == "log_batch" for m in r.get("metrics", []))
    board.harm("secrets_found", (out.out + out.err + journal_text(project)).count(SENTINEL))
    board.harm("unclear", int(len(notes(out.err)) != 1 or "Traceback" in out.err + out.out))
    assert (project / "data/generated/urban_synth/metadata/UrbanSound8K.csv").is_file()  # the work is done
    assert len(notes(out.err)) == 1, out.err
    port = uri.rsplit(":", 1)[1]
    assert f"MLflow at http://127.0.0.1:{port} is unreachable (connection refused)" in notes(out.err)[0]
    assert "soundflow sync" in notes(out.err)[0] and "Traceback" not in out.err + out.out
    assert {"create_run", "log_batch", "log_artifact", "set_terminated"} <= set(ops), ops
    assert SENTINEL not in out.out + out.err + journal_text(project)
    assert took - stage_seconds < 30, (took, stage_seconds)  # was 284 s of MLflow retries before

    # the server answers: `soundflow sync` sends the run, with its params, metrics and log, and empties the journal
    from mlflow.tracking import MlflowClient

    from soundflow.pipeline import cli

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
    monkeypatch.chdir(project)
    assert cli.main(["sync"]) == 0
    assert "sent 1 run(s)" in capsys.readouterr().err
    client = MlflowClient(mlflow_server.url)
    exp = client.get_experiment_by_name("soundflow/data")  # the experiment of the stage's workflow
    (run,) = client.search_runs([exp.experiment_id], f"tags.dvc_stage_hash = '{tag}'")
    assert run.info.status == "FINISHED" and run.data.tags["soundflow.stage"] == STAGE
    assert run.data.params["data.urban_synth.clips_per_class"] == "1"
    assert run.data.metrics["stage_seconds"] == pytest.approx(stage_seconds)
    assert [a.path for a in client.list_artifacts(run.info.run_id)] == [f"{STAGE}.log"]
    assert not Journal(project).pending() and not (Journal(project).dir / "artifacts").exists()
    assert cli.main(["sync"]) == 0 and "nothing to sync" in capsys.readouterr().err


def test_sync_refuses_in_one_sentence_while_the_server_is_away(board, project: Path) -> None:
    board.tried("fault")
    Journal(project).append({"op": "note", "pipeline": None, "target": "http://127.0.0.1:9", "why": "test"})
    env = dict(base_env(), MLFLOW_TRACKING_URI=closed_uri())
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "soundflow", "sync"], cwd=project, env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    board.harm("unclear", int(len(lines) != 1 or "Traceback" in proc.stderr))
    board.harm("secrets_found", proc.stderr.count(SENTINEL))
    assert proc.returncode != 0 and len(lines) == 1, proc.stderr
    assert "is unreachable (connection refused); the tracking calls kept in" in lines[0]
    assert Journal(project).pending() and time.monotonic() - t0 < 60
    Journal(project).clear()


def test_offline_pipeline_runs_keep_their_parent_across_stages_and_sync(
    board, mlflow_server: Running, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """Two stage processes of one offline pipeline run share its parent (found in the journal); the sync gives
    the children the parent's server id."""
    from mlflow.tracking import MlflowClient

    board.tried("fault")
    key, name = f"dvc-{uuid.uuid4().hex}", f"offline-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", closed_uri())
    monkeypatch.setenv("SOUNDFLOW_PIPELINE_KEY", key)
    children = []
    for stage in ("first", "second"):  # as under `dvc repro`: a tracker per stage, one pipeline key
        tracker = Tracker(tmp_path, name)
        parent = tracker.pipeline_run(key, "dvc", {"a.b": 1}, {})
        children.append(tracker.stage_run(stage, parent, {"x": stage}, {}))
        tracker.log_metrics(children[-1], {"m": 1.0})
        tracker.finish(children[-1])
        tracker.finish(parent)
    assert len(notes(capsys.readouterr().err)) == 1  # one note for the pipeline run, not one per stage
    done = sync_cli.send(tmp_path, mlflow_server.url)
    client = MlflowClient(mlflow_server.url)
    exp = client.get_experiment_by_name(name).experiment_id
    parents = client.search_runs([exp], f"tags.`soundflow.pipeline_key` = '{key}'")
    kids = client.search_runs([exp], "tags.`soundflow.stage` != ''")
    board.harm("files_lost", 3 - done.runs)
    assert done.runs == 3 and len(parents) == 1 and parents[0].info.status == "FINISHED"
    assert sorted(k.data.tags["soundflow.stage"] for k in kids) == ["first", "second"]
    assert {k.data.tags["mlflow.parentRunId"] for k in kids} == {parents[0].info.run_id}
    assert parents[0].data.params["a.b"] == "1"


@pytest.fixture
def s3_store(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[subprocess.Popen]:
    """moto's S3 of this test alone (the test stops it), with a bucket; the client's secret key a sentinel."""
    spec = servers.s3_server(port=servers.free_port())
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIASENTINEL0000")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SENTINEL)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("MLFLOW_S3_ENDPOINT_URL", spec.url)
    with servers.running(spec, tmp_path / "s3.log", timeout=60) as (proc, _):
        boto3_client(spec.url).create_bucket(Bucket="art")
        yield proc


def test_s3_artifact_store_going_away_mid_run_is_journalled_then_synced(
    board, s3_store: subprocess.Popen, mlflow_server: Running, tmp_path: Path, monkeypatch, capsys
) -> None:
    """Artifacts the client writes straight to S3 (the experiment's artifact location): the store stops between
    two calls; the rest is journalled, then synced to a new store."""
    from mlflow.tracking import MlflowClient

    board.tried("fault")
    board.tried("secret")
    uri, name = mlflow_server.url, f"on-s3-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.delenv("SOUNDFLOW_PIPELINE_KEY", raising=False)
    MlflowClient(uri).create_experiment(name, artifact_location="s3://art/runs")
    (tmp_path / "a.txt").write_text("before")
    (tmp_path / "b.txt").write_text("after")
    tracker = Tracker(tmp_path, name)
    run_id = tracker.stage_run("s", None, {"p": 1}, {})
    tracker.log_artifact(run_id, tmp_path / "a.txt")  # the store answers
    assert tracker.offline is None
    servers.stop(s3_store)
    t0 = time.monotonic()
    tracker.log_artifact(run_id, tmp_path / "b.txt")  # the store is gone: bounded retries, then the journal
    tracker.log_metrics(run_id, {"m": 1.0})
    tracker.finish(run_id)
    took = time.monotonic() - t0
    err = capsys.readouterr().err
    board.harm("secrets_found", (err + journal_text(tmp_path)).count(SENTINEL))
    board.harm("unclear", int(len(notes(err)) != 1 or "Traceback" in err))
    assert len(notes(err)) == 1 and "the S3 artifact store of MLflow stopped answering" in notes(err)[0], err
    assert took < 30, took
    assert [r["op"] for r in Journal(tmp_path).records()] == ["note", "log_artifact", "log_batch", "set_terminated"]

    # the store is back (a new, empty one): the sync sends what was kept, to the run made before the failure
    spec = servers.s3_server(port=servers.free_port())
    monkeypatch.setenv("MLFLOW_S3_ENDPOINT_URL", spec.url)
    with servers.running(spec, tmp_path / "s3b.log", timeout=60):
        boto3_client(spec.url).create_bucket(Bucket="art")
        done = sync_cli.send(tmp_path, uri)
        keys = [o["Key"] for o in boto3_client(spec.url).list_objects_v2(Bucket="art").get("Contents", [])]
    run = MlflowClient(uri).get_run(run_id)
    assert (done.runs, done.calls, done.failed) == (0, 3, [])
    assert any(k.endswith(f"{run_id}/artifacts/b.txt") for k in keys), keys
    assert run.data.metrics["m"] == 1.0 and run.info.status == "FINISHED"


@pytest.mark.soak
def test_mlflow_server_stopped_mid_run_then_the_next_run_sends_the_rest(
    board, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """A real MLflow server of our own, stopped between two tracking calls; back on the same port and
    database, the next run's tracker sends what the first kept."""
    from mlflow.tracking import MlflowClient

    board.tried("fault")
    port = servers.free_port()
    spec = servers.mlflow_server(f"sqlite:///{tmp_path / 'mlflow.db'}", str(tmp_path / "artifacts"), port=port)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", spec.url)
    monkeypatch.delenv("SOUNDFLOW_PIPELINE_KEY", raising=False)
    (tmp_path / "a.txt").write_text("kept offline")
    with servers.running(spec, tmp_path / "server.log", timeout=300, base_env=base_env()):
        tracker = Tracker(tmp_path, "mid-run")
        run_id = tracker.stage_run("s", None, {"p": 1}, {})
        tracker.log_metrics(run_id, {"before": 1.0})
    t0 = time.monotonic()  # the server is stopped: the next calls go to the journal
    tracker.log_metrics(run_id, {"after": 2.0})
    tracker.log_artifact(run_id, tmp_path / "a.txt")
    tracker.finish(run_id)
    took = time.monotonic() - t0
    err = capsys.readouterr().err
    board.harm("unclear", int(len(notes(err)) != 1 or "Traceback" in err))
    assert len(notes(err)) == 1 and f"MLflow at http://127.0.0.1:{port} stopped answering" in notes(err)[0], err
    assert took < 30, took
    with servers.running(spec, tmp_path / "server.log", timeout=300, base_env=base_env()):
        Tracker(tmp_path, "mid-run")  # the next run finds the server back and sends the journal first
        run = MlflowClient(spec.url).get_run(run_id)
        arts = [a.path for a in MlflowClient(spec.url).list_artifacts(run_id)]
    assert run.data.metrics == {"before": 1.0, "after": 2.0} and run.info.status == "FINISHED"
    assert arts == ["a.txt"] and not Journal(tmp_path).pending()
    assert "sent 0 run(s) kept offline" in capsys.readouterr().err


@pytest.mark.soak
def test_dvc_repro_with_tracking_unreachable_finishes_in_bounded_time(board, tmp_path: Path) -> None:
    board.tried("fault")
    project = copy_project(ROOT, tmp_path / "project", {**TINY, "data.urban_synth.clips_per_class": 1})
    if not (project / ".venv").exists():  # the stage commands name the project's interpreter
        (project / ".venv").symlink_to(Path(sys.executable).parents[1], target_is_directory=True)
    env = dict(base_env(), MLFLOW_TRACKING_URI=closed_uri())
    t0 = time.monotonic()
    proc = subprocess.run([str(Path(sys.executable).with_name("dvc")), "repro", STAGE], cwd=project, env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    took = time.monotonic() - t0
    out = proc.stdout + proc.stderr
    board.harm("unclear", int(len(notes(out)) != 1 or "Traceback" in out))
    board.harm("secrets_found", out.count(SENTINEL))
    assert proc.returncode == 0, out[-3000:]
    assert len(notes(out)) == 1 and "Traceback" not in out, out[-3000:]
    assert any(r["op"] == "set_terminated" for r in Journal(project).records())
    assert took < 240, took  # was 284 s of silence, then tracebacks
