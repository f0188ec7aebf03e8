"""Cache integrity for checkpoints: a checkpoint damaged or replaced by hand is never served.

Each loader a stage or command uses (``soundflow predict``, ``soundflow segment``, the evaluation stages, the
transcoder's teacher and CNNs, a resumed ``fit``) gets a real checkpoint of a tiny real model, written by the
real save path (:func:`soundflow.checkpoints.save_checkpoint`, as ``fit`` writes it), then damaged in place
(bytes flipped, truncated, replaced by another valid checkpoint without a hash...). Commands must refuse in one
line naming the file and exit non-zero; a damaged resume state is discarded with a note naming it, and the
run then ends exactly where an uninterrupted one does.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from PIL import Image
from torch.utils.data import DataLoader, TensorDataset

import models
from models.checkpoint_format import CheckpointError
from soundflow.checkpoints import save_checkpoint
from soundflow.pipeline.cli import main
from soundflow.training import BestEpoch, FitFiles, FitOptions, StepOutput, fit
from tests.helpers.aed import TINY
from tests.helpers.checkpoint_tamper import PROBLEM, TAMPERS
from tests.helpers.paths import ROOT

AED_FEATURES = {**{k: v for k, v in TINY.items() if k != "workers"}, "n_freq_bins": 64, "n_frames": 64}
LOADER_TAMPERS = ["flip_middle", "flip_tensor", "truncate_half", "without_hash"]


def _aed() -> dict:
    kwargs = {"n_classes": 3, "input_shape": [64, 64], "width": 2, "dense": 8, "dropout": 0.0}
    net = models.get("aed_cnn")(**kwargs)
    return {"model_name": "aed_cnn", "model_kwargs": kwargs, "state_dict": net.state_dict(),
            "classes": ["dog_bark", "drilling", "siren"], "feature_params": AED_FEATURES}  # fmt: skip


def _erfnet() -> dict:
    net = models.get("erfnet")(num_classes=3)
    return {"model_name": "erfnet", "model_kwargs": {"num_classes": 3}, "state_dict": net.state_dict(),
            "classes": ["road", "car", "sky"], "input_size": [64, 128]}  # fmt: skip


def _teacher() -> dict:
    from tasks.transcoder.teacher import _contents

    net = models.get("pann_cnn14")(n_classes=3, width=4)
    return _contents("pann_cnn14", {"n_classes": 3, "width": 4}, net.state_dict(), ["a", "b", "c"], None)


def _transcoder_cnn() -> dict:
    kwargs = {"channels": 4, "layers": 2, "kernel": [3, 5]}
    return {"model_name": "transcoder_cnn", "model_kwargs": kwargs,
            "state_dict": models.get("transcoder_cnn")(**kwargs).state_dict(), "mel": "logmel_pann"}  # fmt: skip


def _t2a_classifier() -> dict:
    kwargs = {"n_classes": 3, "input_shape": [64, 64], "dense": 8, "dropout": 0.0}
    return {"model_name": "salamon_cnn", "model_kwargs": kwargs,
            "state_dict": models.get("salamon_cnn")(**kwargs).state_dict(), "best_epoch": 1}  # fmt: skip


def _loaders() -> dict[str, tuple[Callable[[], dict], Callable[[Path], object]]]:
    """Each evaluation-side loader (the stages and commands that use it) and how to make its checkpoint."""
    from tasks.features.chunk_classifier import load_checkpoint as load_aed
    from tasks.segmentation.inference import load_checkpoint as load_seg
    from tasks.text_to_audio.evaluate import load_classifier
    from tasks.transcoder.teacher import load_teacher
    from tasks.transcoder.train import load_transcoder

    cpu = torch.device("cpu")
    return {
        "aed_evaluate, loc_pseudo_labels": (_aed, lambda p: load_aed(p, cpu)),
        "seg_evaluate, seg_predict": (_erfnet, lambda p: load_seg(p, cpu)),
        "transcoder teacher": (_teacher, lambda p: load_teacher(p, cpu)),
        "transcoder cnn": (_transcoder_cnn, lambda p: load_transcoder(p, cpu)),
        "t2a_evaluate": (_t2a_classifier, lambda p: load_classifier(p, cpu)),
    }


LOADERS = sorted(_loaders())


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One intact checkpoint per loader (and per command), written once for the module."""
    d = tmp_path_factory.mktemp("pristine")
    torch.manual_seed(0)
    made = {name: save_checkpoint(d / f"{i}.pt", make()) for i, (name, (make, _)) in enumerate(_loaders().items())}
    made["av_localisation"] = save_checkpoint(d / "loc.pt", _localisation())
    return made


def _localisation() -> dict:
    kwargs = {"n_classes": 3, "embed_dim": 8, "proj_hidden": 8, "avc_hidden": 8}
    return {"model_name": "av_localisation", "model_kwargs": kwargs,
            "state_dict": models.get("av_localisation")(**kwargs).state_dict(), "stage": 1}  # fmt: skip


def _copy(src: Path, dst_dir: Path, name: str = "model.pt") -> Path:
    dst_dir.mkdir(parents=True, exist_ok=True)
    return Path(shutil.copyfile(src, dst_dir / name))


def _refusal(path: Path, tamper: str, call: Callable[[], object]) -> tuple[int, int, str]:
    """(served, unclear, message) of ``call`` on the damaged ``path``."""
    try:
        call()
    except CheckpointError as err:
        message = str(err)
        clear = message.startswith(f"{path}: ") and "\n" not in message
        return 0, int(not (clear and any(p in message for p in PROBLEM[tamper]))), message
    return 1, 0, "served"


@pytest.mark.parametrize("tamper", LOADER_TAMPERS)
@pytest.mark.parametrize("loader", LOADERS)
def test_every_evaluation_loader_refuses_a_damaged_checkpoint(
    board, pristine: dict[str, Path], tmp_path: Path, loader: str, tamper: str
) -> None:
    load = _loaders()[loader][1]
    path = _copy(pristine[loader], tmp_path)
    load(path)  # intact: loads
    TAMPERS[tamper](path)
    board.tried("tamper")
    served, unclear, message = _refusal(path, tamper, lambda: load(path))
    board.harm("stale_served", served)
    board.harm("unclear", unclear)
    assert not served and not unclear, message


def test_the_localisation_evaluation_refuses_a_damaged_checkpoint(
    board, pristine: dict[str, Path], tmp_path: Path
) -> None:
    tamper = "flip_tensor"  # one case: a ResNet-18 trunk takes seconds to build; the loader is the shared one
    from tasks.localisation.train import load_model

    path = _copy(pristine["av_localisation"], tmp_path, "stage1.pt")
    load_model(path)
    TAMPERS[tamper](path)
    board.tried("tamper")
    served, unclear, message = _refusal(path, tamper, lambda: load_model(path))
    board.harm("stale_served", served)
    board.harm("unclear", unclear)
    assert not served and not unclear, message


def _wav(path: Path) -> Path:
    noise = np.random.default_rng(0).normal(0, 0.1, 4 * 16000).astype(np.float32)
    sf.write(path, noise, 16000)
    return path


def _one_line_refusal(rc: int | None, err: str, path: Path, tamper: str) -> int:
    lines = [line for line in err.splitlines() if line.strip()]
    ok = rc not in (0, None) and len(lines) == 1 and lines[0].startswith(f"soundflow: {path}: ")
    return int(not (ok and any(p in lines[0] for p in PROBLEM[tamper])))


def _run_main(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int | None, str, str]:
    try:
        rc = main(argv)
    except Exception as err:  # a traceback where one sentence belongs: counted as unclear
        print(f"{type(err).__name__}: {err}\ntraceback", file=sys.stderr)
        rc = None
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.mark.parametrize("tamper", sorted(TAMPERS))
def test_predict_refuses_a_damaged_checkpoint_in_one_line(
    board, pristine: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture, tamper: str
) -> None:
    path = _copy(pristine["aed_evaluate, loc_pseudo_labels"], tmp_path / "outputs" / "aed")
    argv = ["predict", str(_wav(tmp_path / "clip.wav")), "--checkpoint", str(path), "--confidence", "0"]
    assert _run_main(argv, capsys)[0] == 0  # intact: a prediction
    TAMPERS[tamper](path)
    board.tried("tamper")
    rc, out, err = _run_main(argv, capsys)
    board.harm("stale_served", int(rc == 0 or "%" in out))
    board.harm("unclear", _one_line_refusal(rc, err, path, tamper))
    assert rc not in (0, None) and "%" not in out and _one_line_refusal(rc, err, path, tamper) == 0, err


@pytest.mark.parametrize("tamper", ["flip_middle", "truncate_half", "without_hash", "directory"])
def test_segment_refuses_a_damaged_checkpoint_and_writes_nothing(
    board, pristine: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture, tamper: str
) -> None:
    path = _copy(pristine["seg_evaluate, seg_predict"], tmp_path / "outputs" / "segmentation")
    images = tmp_path / "images"
    images.mkdir()
    Image.new("RGB", (32, 16), (90, 120, 200)).save(images / "a.png")
    TAMPERS[tamper](path)
    board.tried("tamper")
    out_dir = tmp_path / "segmented"
    rc, _, err = _run_main(["segment", "--test-images", str(images), "--checkpoint", str(path), "--out", str(out_dir)],
                           capsys)  # fmt: skip
    board.harm("stale_served", int(rc == 0 or out_dir.exists()))
    board.harm("unclear", _one_line_refusal(rc, err, path, tamper))
    assert rc not in (0, None) and not out_dir.exists() and _one_line_refusal(rc, err, path, tamper) == 0, err


@pytest.mark.soak  # a fresh interpreter importing torch: tens of seconds on a busy machine; in-process above
def test_the_predict_command_exits_non_zero_with_one_line_and_no_traceback(
    board, pristine: dict[str, Path], tmp_path: Path
) -> None:
    """The reported case, end to end in a process of its own: 256 bytes flipped in the middle of model.pt."""
    path = _copy(pristine["aed_evaluate, loc_pseudo_labels"], tmp_path / "outputs" / "aed")
    TAMPERS["flip_middle"](path)
    board.tried("tamper")
    argv = [sys.executable, "-m", "soundflow", "predict", str(_wav(tmp_path / "clip.wav")), "--checkpoint", str(path)]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=300)
    board.harm("stale_served", int(done.returncode == 0 or "%" in done.stdout))
    board.harm("unclear", _one_line_refusal(done.returncode, done.stderr, path, "flip_middle"))
    assert done.returncode != 0 and "%" not in done.stdout and "Traceback" not in done.stderr, done.stderr
    assert _one_line_refusal(done.returncode, done.stderr, path, "flip_middle") == 0, done.stderr


# -- resuming a fit: the state is only a time saver, so a damaged one is discarded (with a note), never used


def _step(model: torch.nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> StepOutput:
    x, y = batch
    return StepOutput(torch.nn.functional.cross_entropy(model(x), y), len(y), {})


def _fit(root: Path, epochs: int) -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    x = torch.randn(32, 16, generator=torch.Generator().manual_seed(1))
    y = (x[:, 0] > 0).long()
    loader = DataLoader(TensorDataset(x, y), batch_size=8, shuffle=True, generator=torch.Generator().manual_seed(0))
    model = models.get("deep_head")(n_inputs=16, n_classes=2, hidden=8)
    files = FitFiles(root / "state", root / "model.pt", root / "history.csv", root / "summary.json")
    result = fit(
        model,
        loader,
        train_step=_step,
        validate=lambda m: {"val_loss": float(torch.nn.functional.cross_entropy(m(x), y))},
        make_optimizer=lambda params: torch.optim.Adam(params, lr=0.01),
        make_scheduler=lambda opt, total: torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0),
        options=FitOptions(epochs=epochs, best=BestEpoch("val_loss", "min"), name="tiny head", progress=False),
        files=files,
        fingerprint="fp",
        make_checkpoint=lambda r: {"state_dict": r.best_state, "best_epoch": r.best_epoch},
        make_summary=lambda r: {"epochs_run": len(r.history)},
        device=torch.device("cpu"),
    )
    return {k: v.clone() for k, v in result.best_state.items()}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, torch.Tensor]:
    return _fit(tmp_path_factory.mktemp("uninterrupted"), epochs=3)


@pytest.mark.parametrize("tamper", ["flip_tensor", "truncate_half", "without_hash", "edited_and_resaved", "text"])
def test_a_damaged_resume_state_is_discarded_with_a_note_and_the_run_starts_over(
    board, uninterrupted: dict[str, torch.Tensor], tmp_path: Path, capsys: pytest.CaptureFixture, tamper: str
) -> None:
    _fit(tmp_path, epochs=1)  # the state after epoch 1, as a killed run leaves it
    last = tmp_path / "state" / "last.pt"
    TAMPERS[tamper](last)
    capsys.readouterr()
    board.tried("tamper")
    weights = _fit(tmp_path, epochs=3)
    printed = capsys.readouterr().out
    notes = [line for line in printed.splitlines() if line.startswith(f"{last}: ")]
    resumed = "resuming from" in printed
    same = all(torch.equal(weights[k], uninterrupted[k]) for k in uninterrupted)
    board.harm("stale_served", int(resumed or not same))
    board.harm("unclear", int(len(notes) != 1 or not notes[0].endswith("; training from scratch")))
    assert not resumed and same, printed
    assert len(notes) == 1 and any(p in notes[0] for p in PROBLEM[tamper]), printed
    assert notes[0].endswith("; training from scratch")


# -- the model registry: `--checkpoint models:/<name>@<alias>` downloads the registered file into a cache


@pytest.fixture
def registered(tmp_path: Path, pristine: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """(project root, source artifact) of version 1 of ``soundflow-aed`` in a local MLflow store, alias champion."""
    from mlflow.tracking import MlflowClient

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    root = tmp_path / "project"
    root.mkdir()
    client = MlflowClient(f"sqlite:///{root / 'mlruns.db'}")
    experiment = client.create_experiment("registry", artifact_location=(tmp_path / "artifacts").as_uri())
    run = client.create_run(experiment)
    client.log_artifact(run.info.run_id, str(_copy(pristine["aed_evaluate, loc_pseudo_labels"], tmp_path)), "outputs")
    client.create_registered_model("soundflow-aed")
    source = f"{run.info.artifact_uri}/outputs/model.pt"
    version = client.create_model_version("soundflow-aed", source, run_id=run.info.run_id)
    client.set_registered_model_alias("soundflow-aed", "champion", version.version)
    return root, next((tmp_path / "artifacts").rglob("outputs/model.pt"))


@pytest.mark.soak  # a fresh MLflow store (its schema migrations) takes half a minute on a busy machine
def test_a_damaged_cached_registry_download_is_fetched_again_and_a_damaged_source_refused(
    board, registered: tuple[Path, Path], capsys: pytest.CaptureFixture
) -> None:
    from soundflow.checkpoints import load_checkpoint
    from soundflow.pipeline.ops.model_uri import resolve_checkpoint

    root, source = registered
    cached = resolve_checkpoint("models:/soundflow-aed@champion", root)
    TAMPERS["flip_tensor"](cached)
    board.tried("tamper", 2)
    again = resolve_checkpoint("models:/soundflow-aed@champion", root)
    note = capsys.readouterr().err
    served = 0
    try:
        load_checkpoint(again)
    except CheckpointError:
        served += 1  # the damaged copy was handed on
    TAMPERS["flip_tensor"](source)
    shutil.rmtree(again.parent)  # nothing cached: the damaged source itself is downloaded
    with pytest.raises(CheckpointError) as refused:
        resolve_checkpoint("models:/soundflow-aed@champion", root)
        served += 1
    board.harm("stale_served", served)
    board.harm("unclear", int("version 1 of soundflow-aed is damaged at its source" not in str(refused.value)))
    assert served == 0 and again == cached and f"{cached}: cached copy of models:/soundflow-aed@champion" in note
    assert str(refused.value).startswith(f"{cached}: checkpoint content does not match its recorded hash")
