"""A real aed_train result tracked through the MLflow server: its artifacts land in S3 (moto), its checkpoint is
registered with aliases, and ``soundflow predict --model models:/...@champion`` uses it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from soundflow.env import STATE_DIR
from soundflow.pipeline.cli import main
from soundflow.pipeline.ops import model_uri, registry
from soundflow.pipeline.tracking import Tracker, workflow_experiment
from tests.helpers import tiny_checkpoints
from tests.helpers.servers import S3_CREDENTIALS, Running, base_env, boto3_client
from tests.helpers.tracked_runs import aed_train_outputs, log_pipeline

pytestmark = pytest.mark.slow  # seconds or more: outside the fast suite (`make test-fast`)

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
        tracker = Tracker(root, workflow_experiment(EXPERIMENT, "aed"))  # where the runner logs the AED stages
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
    for option, model in (("--checkpoint", str(tracked.checkpoint)), ("--model", f"models:/{MODEL}@champion")):
        assert main(["predict", str(wav), option, model, "--results", "3", "--confidence", "0"]) == 0
        lines = capsys.readouterr().out.splitlines()
        outputs.append([line for line in lines if "ms/chunk compute" not in line])  # all but the timing
    assert outputs[0] == outputs[1] and len(outputs[0]) == 4
    assert main(["predict", str(wav), "--model", f"models:/{MODEL}@no_such_alias"]) == 2
    assert "not found in the model registry" in capsys.readouterr().err
    args = ["segment", "--test-images", str(tracked.root), "--checkpoint", "models:/no-such-model@champion"]
    assert main(args) == 2
    assert "models:/no-such-model@champion: not found" in capsys.readouterr().err


def test_champion_is_an_mlflow_model_that_mlflow_serves(
    tracked: Tracked, mlflow_server: Running, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The registered version is an MLflow Model (pyfunc, signature, input example, the raw checkpoint inside);
    ``mlflow models serve`` of ``@champion`` answers a REST request with the scores ``soundflow predict`` ranks."""
    import json
    import urllib.request

    import mlflow.models
    import soundfile as sf
    from mlflow.tracking import MlflowClient

    from soundflow.pipeline.ops import servers
    from tasks.aed.predict import Predictor

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
    registry.register_best(MlflowClient(mlflow_server.url), EXPERIMENT, "aed", None)
    uri = f"models:/{MODEL}@champion"
    info = mlflow.models.get_model_info(uri)
    assert "python_function" in info.flavors and info.saved_input_example_info is not None
    assert [c.name for c in info.signature.outputs.inputs] == ["car_horn", "dog_bark", "siren"]
    assert _sha(model_uri.resolve_checkpoint(uri, tracked.root)) == _sha(tracked.checkpoint)  # the raw checkpoint

    wav = next((tracked.root / "ds").rglob("*.wav"))
    samples, rate = sf.read(wav, dtype="float32")
    expected = dict(Predictor(tracked.checkpoint).predict(wav, results=3, confidence=0.0).top)  # `soundflow predict`
    port = servers.free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [servers._exe("mlflow"), "models", "serve", "-m", uri, "--env-manager", "local",
            "-h", "127.0.0.1", "-p", str(port), "-w", "1"]  # fmt: skip
    spec = servers.ServerSpec("model", argv, {"MLFLOW_TRACKING_URI": mlflow_server.url}, url, f"{url}/ping",
                              listen=("127.0.0.1", port))  # fmt: skip
    # one request per input form: a row of another form would hold a missing value MLflow's schema refuses
    requests = [{"path": str(wav)}, {"waveform": samples.tolist(), "sample_rate": float(rate)}]
    answers = []
    with servers.running(spec, tmp_path / "serve.log", timeout=120, base_env=base_env()):
        for row in requests:
            body = json.dumps({"dataframe_records": [row]}).encode()
            request = urllib.request.Request(f"{url}/invocations", body, {"Content-Type": "application/json"})
            with urllib.request.urlopen(request, timeout=60) as r:
                answers += json.loads(r.read())["predictions"]
    assert len(answers) == 2
    for served in answers:  # the file and its samples: the same scores as the project's own inference
        assert served == pytest.approx(expected, abs=1e-6)


def _transcoder_outputs(root: Path, seed: int) -> dict[str, Path]:
    """The teacher's and both students' stage outputs under ``root`` (untrained checkpoints at test size)."""
    from flows.workflows import transcoder as t

    made = {
        "transcoder_teacher": tiny_checkpoints.teacher(root / t.TRANSCODER_TEACHER, seed),
        "transcoder_cnn_mels": tiny_checkpoints.student(root / t.TRANSCODER_CNN_MELS, "mels", seed + 1),
        "transcoder_cnn_logits": tiny_checkpoints.student(root / t.TRANSCODER_CNN_LOGITS, "logits", seed + 2),
    }
    for summary, history in ((t.TRANSCODER_TEACHER_SUMMARY, t.TRANSCODER_TEACHER_HISTORY),
                             (t.TRANSCODER_CNN_MELS_SUMMARY, t.TRANSCODER_CNN_MELS_HISTORY),
                             (t.TRANSCODER_CNN_LOGITS_SUMMARY, t.TRANSCODER_CNN_LOGITS_HISTORY)):  # fmt: skip
        (root / summary).parent.mkdir(parents=True, exist_ok=True)
        (root / summary).write_text('{"best_epoch": 1}')
        (root / history).write_text("epoch,train_loss,val_loss\n1,0.5,0.6\n")
    return made


def test_each_transcoder_model_is_ranked_by_its_own_metric(
    mlflow_server: Running, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The teacher by its own macro AUPRC (the true Mel row), each student by its own row of the evaluation; the
    evaluation's runs searched once for the three; each version an MLflow Model answering as the evaluation
    computes (the CNN-logits student through the teacher of its pipeline run)."""
    import mlflow.pyfunc
    import numpy as np
    import torch
    from mlflow.tracking import MlflowClient

    from tasks.transcoder.conditions import Transcoders, teacher_probabilities
    from tasks.transcoder.fitting import batched
    from tasks.transcoder.teacher import load_teacher

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
    experiment = "registry-ranking"
    tracker = Tracker(tmp_path, experiment)
    scores = {
        "a": {"mel": 0.9, "cnn_mels": 0.4, "cnn_logits": 0.3},  # the teacher best in a
        "b": {"mel": 0.5, "cnn_mels": 0.7, "cnn_logits": 0.8},  # both students best in b
    }
    evaluations, made = {}, {}
    for seed, (key, by) in enumerate(scores.items()):  # one pipeline each; the grouping head the other way
        made[key] = _transcoder_outputs(tmp_path / key, 10 * seed)
        metrics = {f"soundscapes/deep/{c}/macro_auprc": v for c, v in by.items()}
        metrics |= {f"soundscapes/grouping/{c}/macro_auprc": 1 - v for c, v in by.items()}
        stage_metrics = {s: {} for s in made[key]}
        ids = log_pipeline(tracker, key, {}, {**stage_metrics, "transcoder_evaluate": metrics}, tmp_path / key)
        evaluations[key] = ids["transcoder_evaluate"]
    client = MlflowClient(mlflow_server.url)
    searched = []
    search = client.search_runs
    monkeypatch.setattr(
        client, "search_runs", lambda *a, **kw: searched.append(kw.get("filter_string", "")) or search(*a, **kw)
    )
    done = registry.register_best(client, experiment, "transcoder", None)
    champions = {(r.name, r.metric): r.run_id for r in done if r.alias == "champion"}
    assert champions == {
        ("soundflow-transcoder-teacher", "soundscapes/deep/mel/macro_auprc"): evaluations["a"],
        ("soundflow-transcoder-cnn_mels", "soundscapes/deep/cnn_mels/macro_auprc"): evaluations["b"],
        ("soundflow-transcoder-cnn_logits", "soundscapes/deep/cnn_logits/macro_auprc"): evaluations["b"],
    }
    assert sum("'transcoder_evaluate'" in f for f in searched) == 1

    third = np.random.default_rng(5).uniform(20, 80, (2, 8, 29)).astype(np.float32)
    cpu = torch.device("cpu")
    teacher, classes, _ = load_teacher(made["b"]["transcoder_teacher"], cpu)  # the students' champion pipeline: b
    students = Transcoders.load(
        "logmel_pann", made["b"]["transcoder_cnn_mels"], made["b"]["transcoder_cnn_logits"], cpu
    )
    mels = {c: batched(students.of(c), torch.from_numpy(third), cpu) for c in ("cnn_mels", "cnn_logits")}
    served = {c: mlflow.pyfunc.load_model(f"models:/soundflow-transcoder-{c}@champion") for c in mels}
    np.testing.assert_allclose(served["cnn_mels"].predict(third), mels["cnn_mels"].numpy(), atol=1e-6)
    probs = served["cnn_logits"].predict(third)
    assert list(probs.columns) == classes
    np.testing.assert_allclose(probs.to_numpy(), teacher_probabilities(teacher, mels, cpu)["cnn_logits"], atol=1e-6)
    teacher_model = mlflow.models.get_model_info("models:/soundflow-transcoder-teacher@champion")
    assert "python_function" in teacher_model.flavors and teacher_model.signature is not None
