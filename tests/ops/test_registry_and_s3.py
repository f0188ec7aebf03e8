"""A real aed_train result tracked through the MLflow server: its artifacts land in S3 (moto), its checkpoint is
registered with aliases, and ``soundflow predict --checkpoint models:/...@champion`` uses it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from soundflow.env import STATE_DIR
from soundflow.pipeline.cli import main
from soundflow.pipeline.ops import model_uri, registry
from soundflow.pipeline.tracking import Tracker
from tests.helpers.servers import S3_CREDENTIALS, Running, boto3_client
from tests.helpers.tracked_runs import aed_train_outputs, log_pipeline

EXPERIMENT = "registry-test"
MODEL = "soundflow-aed"
CLIENT_SECRET = "client-secret-4c1d9e"  # in the test's environment: must reach nothing the server stores


@dataclass(frozen=True)
class Tracked:
    root: Path
    checkpoint: Path
    best: dict[str, str]  # run ids of the better pipeline (logged first)
    newest: dict[str, str]


@pytest.fixture(scope="module")
def tracked(mlflow_server: Running, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tracked]:
    root = tmp_path_factory.mktemp("project")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
        mp.setenv("AWS_SECRET_ACCESS_KEY", CLIENT_SECRET)
        checkpoint = aed_train_outputs(root)
        tracker = Tracker(root, EXPERIMENT)
        params = {"aed.train.epochs": 1, "tracking.experiment": EXPERIMENT}
        best = log_pipeline(tracker, "a", params, {"aed_train": {}, "aed_evaluate": {"accuracy": 0.9}}, root)
        newest = log_pipeline(tracker, "b", params, {"aed_train": {}, "aed_evaluate": {"accuracy": 0.5}}, root)
        yield Tracked(root, checkpoint, best, newest)


def test_stage_artifacts_go_through_the_server_to_s3(
    tracked: Tracked, mlflow_server: Running, s3_server: Running
) -> None:
    from mlflow.tracking import MlflowClient

    keys = [o["Key"] for o in boto3_client(s3_server.url).list_objects_v2(Bucket="mlflow")["Contents"]]
    run = tracked.best["aed_train"]
    for name in ("outputs/model.pt", "outputs/training_curves.png", "outputs/train_history.csv", "metrics/train.json"):
        assert any(k.endswith(f"{run}/artifacts/{name}") for k in keys), (name, keys)
    client = MlflowClient(mlflow_server.url)
    assert client.get_run(run).info.artifact_uri.startswith("mlflow-artifacts:")  # proxied: no S3 client here
    secrets = {S3_CREDENTIALS["AWS_ACCESS_KEY_ID"], S3_CREDENTIALS["AWS_SECRET_ACCESS_KEY"], CLIENT_SECRET}
    for run_id in [*tracked.best.values(), *tracked.newest.values()]:
        data = client.get_run(run_id).data
        stored = " ".join([*data.params, *data.params.values(), *data.tags, *data.tags.values()])
        assert not any(s in stored for s in secrets), run_id


def test_best_run_is_champion_newest_is_candidate(tracked: Tracked, mlflow_server: Running, monkeypatch) -> None:
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
    client = MlflowClient(mlflow_server.url)
    done = registry.register_best(client, EXPERIMENT, "aed", None)
    assert {(r.name, r.alias, r.run_id) for r in done} == {
        (MODEL, "champion", tracked.best["aed_evaluate"]),
        (MODEL, "candidate", tracked.newest["aed_evaluate"]),
    }
    champion = client.get_model_version_by_alias(MODEL, "champion")
    assert champion.run_id == tracked.best["aed_train"]  # the checkpoint of the pipeline that was evaluated
    assert champion.tags["metric.accuracy"] == "0.9" and "accuracy = 0.9000" in champion.description
    assert champion.tags["soundflow.git_commit"] == "c0ffee"
    assert client.get_model_version_by_alias(MODEL, "candidate").run_id == tracked.newest["aed_train"]
    again = registry.register_best(client, EXPERIMENT, "aed", None)
    assert {r.version for r in again} == {r.version for r in done}  # no new version for the same runs
    # judged the other way round, the newest is also the best: no candidate alias is left
    registry.register_best(client, EXPERIMENT, "aed", None, ascending=True)
    assert set(client.get_registered_model(MODEL).aliases) == {"champion"}
    assert main(["register", "--workflow", "aed", "--experiment", EXPERIMENT]) == 0


def _sha(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def test_predict_and_segment_accept_a_registry_uri(
    tracked: Tracked, mlflow_server: Running, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
    from mlflow.tracking import MlflowClient

    registry.register_best(MlflowClient(mlflow_server.url), EXPERIMENT, "aed", None)
    local = model_uri.resolve_checkpoint(f"models:/{MODEL}@champion", tracked.root)
    assert _sha(local) == _sha(tracked.checkpoint) and local.is_relative_to(tracked.root / STATE_DIR)
    version = MlflowClient(mlflow_server.url).get_model_version_by_alias(MODEL, "champion").version
    assert _sha(model_uri.resolve_checkpoint(f"models:/{MODEL}/{version}", tracked.root)) == _sha(local)
    wav = next((tracked.root / "ds").rglob("*.wav"))
    outputs = []
    for checkpoint in (str(tracked.checkpoint), f"models:/{MODEL}@champion"):
        assert main(["predict", str(wav), "--checkpoint", checkpoint, "--results", "3", "--confidence", "0"]) == 0
        lines = capsys.readouterr().out.splitlines()
        outputs.append([line for line in lines if "ms per chunk" not in line])  # all but the timing
    assert outputs[0] == outputs[1] and len(outputs[0]) == 4
    assert main(["predict", str(wav), "--checkpoint", f"models:/{MODEL}@no_such_alias"]) == 2
    assert "not found in the model registry" in capsys.readouterr().err
    args = ["segment", "--test-images", str(tracked.root), "--checkpoint", "models:/no-such-model@champion"]
    assert main(args) == 2
    assert "models:/no-such-model@champion: not found" in capsys.readouterr().err
