"""What every stage process pays besides its work: no torch for params validation, no MLflow when tracking is
deferred, no interpreter teardown -- and nothing lost by any of it (outputs, tracking record, workspace lock).

The costs themselves are measured by benchmarks/bench_overhead.py; these tests check the mechanisms.
"""

from __future__ import annotations

import inspect
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from soundflow.pipeline.tracking import DEFER_ENV

HEAVY = ("torch", "torchvision", "scipy", "librosa", "mlflow", "pandas")


def _clean_env() -> dict[str, str]:
    """This process's environment without a tracking server, a pipeline run or a workspace lock to join."""
    drop = ("MLFLOW_TRACKING_URI", "SOUNDFLOW_PIPELINE_KEY", "SOUNDFLOW_WORKSPACE_LOCK", DEFER_ENV)
    return {k: v for k, v in os.environ.items() if k not in drop}


def _modules_after(code: str, cwd: Path, env: dict[str, str] | None = None) -> list[str]:
    """The HEAVY modules a fresh interpreter has imported after running ``code``."""
    probe = f"{code}\nimport sys\nprint(repr([m for m in {HEAVY!r} if m in sys.modules]))"
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=cwd, capture_output=True, text=True, check=True, env=env, timeout=300
    )
    return eval(out.stdout.strip().splitlines()[-1])  # noqa: S307 -- our own repr of a list of names


def test_static_representation_names_equal_the_registry() -> None:
    from tasks.features.params import REPRESENTATION_NAMES
    from tasks.features.representations import NAMES

    assert REPRESENTATION_NAMES == NAMES


def test_static_model_names_equal_the_registry() -> None:
    import models
    from tasks.aed.params import CLASSIFIER_ARGS, CLASSIFIERS, MODEL_NAMES

    assert sorted(MODEL_NAMES) == sorted(models.available())
    takes_all = [n for n in models.available() if CLASSIFIER_ARGS <= set(inspect.signature(models.get(n)).parameters)]
    assert sorted(CLASSIFIERS) == sorted(takes_all)


def test_load_params_imports_no_torch(root: Path) -> None:
    code = (
        f"from pathlib import Path\nfrom soundflow.pipeline.config import load_params\nload_params(Path({str(root)!r}))"
    )
    assert _modules_after(code, root) == []


def test_the_cli_parser_imports_no_pandas(root: Path) -> None:
    every = "from soundflow.pipeline.cli import app\nfor name in app.COMMANDS:\n    app.main([name, '--help'])"
    assert _modules_after(every, root) == []


@pytest.mark.slow
def test_deferred_tracking_imports_no_mlflow_and_the_next_tracker_sends_it(
    tmp_path: Path, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "m.json").write_text(json.dumps({"acc": 0.5}))
    code = f"""
from pathlib import Path
from soundflow.pipeline.tracking import Tracker
t = Tracker(Path({str(tmp_path)!r}), "exp")
run = t.stage_run("s", None, {{"a.b": 1, "c": [1, 2]}}, {{"k": "v"}})
t.log_metrics(run, {{"stage_seconds": 1.5}})
t.log_text(run, "hello", "s.log")
t.log_artifact(run, Path({str(tmp_path / "m.json")!r}), "metrics")
t.finish(run, True)
"""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    env = _clean_env()
    assert _modules_after(code, root, {**env, DEFER_ENV: "1"}) == []
    assert not (tmp_path / "mlruns.db").exists()  # nothing sent yet: the calls are in the journal
    from soundflow.pipeline.cli.pipeline import send_deferred
    from soundflow.pipeline.tracking import Tracker

    (tmp_path / "params.yaml").write_text((root / "params.yaml").read_text())
    send_deferred(tmp_path)  # what `soundflow repro` does once `dvc repro` is done
    tracker = Tracker(tmp_path, "exp")
    (found,) = tracker.search_runs("tags.`soundflow.stage` = 's'")
    assert found.info.status == "FINISHED" and found.data.tags["k"] == "v"
    assert found.data.params == {"a.b": "1", "c": "[1, 2]"} and found.data.metrics == {"stage_seconds": 1.5}
    names = sorted(a.path for a in tracker.client.list_artifacts(found.info.run_id))
    assert names == ["metrics", "s.log"]
    assert not tracker.journal.pending()


@pytest.mark.slow
def test_a_torch_free_stage_process_imports_neither_torch_nor_mlflow_and_loses_nothing(
    tmp_path: Path, root: Path
) -> None:
    """``soundflow stage sound_library`` as `soundflow repro` runs it: outputs, its journalled tracking record
    and the workspace lock all complete although the process skips the interpreter's teardown."""
    from soundflow.pipeline.workspace import TINY, copy_project

    project = copy_project(root, tmp_path / "p", TINY)
    seen = tmp_path / "modules.json"
    # run at exit (exit_now runs atexit handlers): which heavy modules the stage process had imported
    code = (
        "import atexit, json, runpy, sys\n"
        f"atexit.register(lambda: open({str(seen)!r}, 'w').write(json.dumps([m for m in {HEAVY!r} "
        "if m in sys.modules])))\n"
        "sys.argv = ['soundflow', 'stage', 'sound_library']\n"
        "runpy.run_module('soundflow', run_name='__main__', alter_sys=True)\n"
    )
    env = _clean_env()
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=project, env={**env, DEFER_ENV: "1"}, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "[sound_library]" in done.stdout  # what the stage printed was flushed before the process ended
    assert json.loads(seen.read_text()) == ["scipy"]  # its own work's import; no torch, no MLflow
    library = project / "data" / "generated" / "sound_library"
    assert any(library.rglob("*.wav"))
    from soundflow.pipeline import workspace_lock
    from soundflow.pipeline.ops.sync import Journal

    assert workspace_lock.read_record(project) is None  # released: no record of a holder left
    ops = [(r["op"], r.get("status")) for r in Journal(project).records()]
    assert ("create_run", None) in ops and ops[-1] == ("set_terminated", "FINISHED")
    assert ("stage_hash", None) in ops  # its dvc_stage_hash tag is read from dvc.lock when sent, not hashed here
    metrics = [m for r in Journal(project).records() for m in r.get("metrics", [])]
    assert "stage_seconds" in [m[0] for m in metrics]


@pytest.mark.slow  # end to end, about 20 s on a loaded machine; test_deferred_tracking_... is the quick check
def test_soundflow_repro_sends_the_stages_deferred_runs_with_their_tags(
    tmp_path: Path, root: Path, cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stages of `soundflow repro` journal their tracking; the command sends it all once DVC is done."""
    from soundflow.pipeline import dvc_state
    from soundflow.pipeline.ops.sync import Journal
    from soundflow.pipeline.tracking import Tracker
    from soundflow.pipeline.workspace import TINY, copy_project
    from tests.helpers.commands import cached_tasks, ran_by_prefect, sh

    project = copy_project(root, tmp_path / "p", TINY)
    cli_env.pop(DEFER_ENV, None)
    sh(["soundflow", "repro", "sound_library"], project, cli_env)
    assert not Journal(project).pending()  # everything sent
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)  # mlflow.set_tracking_uri of an earlier test sets it
    tracker = Tracker(project, "soundflow/data")  # the experiment of the stage's workflow
    (stage,) = tracker.search_runs("tags.`soundflow.stage` = 'sound_library'")
    assert stage.info.status == "FINISHED" and stage.data.metrics["stage_seconds"] > 0
    with dvc_state.open_repo(project) as repo:  # the tag DVC's run cache would give the stage now
        assert stage.data.tags["dvc_stage_hash"] == dvc_state.stage_hash(repo, "sound_library")
    parent = tracker.client.get_run(stage.data.tags["mlflow.parentRunId"])
    assert parent.info.status == "FINISHED" and parent.data.tags["soundflow.engine"] == "dvc"

    # then a run with nothing to do costs a DVC status: no temporary Prefect server, no flow, nothing logged
    cli_env.pop("PREFECT_API_URL", None)
    runs_before = len(tracker.search_runs("attributes.status = 'FINISHED'", max_results=1000))
    log = sh(["soundflow", "run", "sound_library"], project, cli_env)
    assert ran_by_prefect(log) == [] and "DVC says all are up to date" in log, log
    assert not cached_tasks(log) and "temporary server" not in log.lower(), log
    assert len(tracker.search_runs("attributes.status = 'FINISHED'", max_results=1000)) == runs_before
