from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import tasks.aed.train as train_mod
from soundflow import training_state
from tasks.aed.dataset import chunk_rows, seed_worker_augmentation
from tasks.aed.evaluate import evaluate
from tasks.aed.features import extract_chunks, read_index
from tasks.aed.params import AedDataParams, AedEvaluateParams, AedModelParams, AedTrainParams
from tasks.aed.predict import predict_files
from tasks.datasets.labelled_audio import read_labelled_audio
from tasks.procedural.urban_sounds import generate_dataset
from tests.helpers.aed import tiny_aed_features
from tests.helpers.resume import kill_after_first_epoch, sha256

FEATURES = tiny_aed_features(n_freq_bins=64)
DATA = AedDataParams(root="unused", format="urbansound8k", test_folds=[3], val_fraction=0.25, max_bad_fraction=0.0)
MODEL = AedModelParams(name="aed_cnn", width=4, dense=32, dropout=0.5)


def _train_params(**kw: object) -> AedTrainParams:
    base = dict(
        epochs=3,
        batch_size=8,
        lr_start=1e-3,
        lr_end=1e-6,
        beta1=0.5,
        seed=1337,
        roll_prob=0.5,
        roll_max_fraction=0.05,
        max_batches_per_epoch=0,
        device="cpu",
        num_workers=0,
    )
    return AedTrainParams(**{**base, **kw})


@pytest.fixture(scope="module")
def chunks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("aed")
    generate_dataset(
        d / "ds",
        clips_per_class=10,
        n_folds=3,
        sample_rate=16000,
        duration_range=(2.0, 4.5),
        classes=["car_horn", "dog_bark", "siren"],
        seed=3,
        progress=False,
    )
    table = read_labelled_audio(d / "ds", "urbansound8k")
    return extract_chunks(table, d / "chunks", d / "f.json", d / "s.csv", FEATURES, 0.0, progress=False).store


def test_validation_split_is_by_file(chunks: Path) -> None:
    index = read_index(chunks)
    split = train_mod.split_files(index, DATA, seed=0)
    ids = [set(v.tolist()) for v in split.values()]
    assert all(a.isdisjoint(b) for i, a in enumerate(ids) for b in ids[i + 1 :])
    assert set().union(*ids) == set(range(len(index.file_label)))
    rows = {k: chunk_rows(index, v) for k, v in split.items()}
    # no file has chunks on both sides of the train/validation boundary
    assert set(index.chunk_file[rows["train"]]).isdisjoint(index.chunk_file[rows["val"]])
    assert (index.file_fold[split["test"]] == 3).all() and len(split["val"]) >= 3  # one per class at least


def _run(tmp: Path, chunks: Path, p: AedTrainParams, model: AedModelParams = MODEL) -> train_mod.TrainResult:
    return train_mod.train(
        chunks,
        tmp / "model.pt",
        tmp / "hist.csv",
        tmp / "train.json",
        DATA,
        model,
        p,
        state_dir=tmp / "state",
        progress=False,
    )


def test_best_checkpoint_is_a_copy_of_the_best_epoch(
    chunks: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    accs = iter([0.9, 0.5, 0.4])  # validation gets worse after epoch 1
    monkeypatch.setattr(train_mod, "file_level_accuracy", lambda *a: next(accs))
    res = _run(tmp_path, chunks, _train_params(epochs=3))
    best = torch.load(res.checkpoint, weights_only=False)
    last = torch.load(tmp_path / "state" / "last.pt", weights_only=False)
    assert best["best_epoch"] == 1 and best["val_accuracy"] == 0.9
    w = "features.0.0.weight"
    # a reference instead of a copy would have saved the final weights
    assert not torch.equal(best["state_dict"][w], last["model"][w].cpu())


def test_training_resumes_after_a_crash(
    chunks: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    real = train_mod.predict_rows
    calls = {"n": 0}

    def crash_on_second_epoch(*a: object, **k: object):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("killed")
        return real(*a, **k)

    monkeypatch.setattr(train_mod, "predict_rows", crash_on_second_epoch)
    p = _train_params(epochs=2)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path, chunks, p)
    assert (tmp_path / "state" / "last.pt").exists() and not (tmp_path / "model.pt").exists()
    first = torch.load(tmp_path / "state" / "last.pt", weights_only=False)["history"]
    monkeypatch.setattr(train_mod, "predict_rows", real)
    res = _run(tmp_path, chunks, p)
    assert "resuming from" in capsys.readouterr().out
    import pandas as pd

    hist = pd.read_csv(res.history_csv)
    assert hist["epoch"].tolist() == [1, 2]
    assert hist.loc[0, "train_loss"] == pytest.approx(first[0]["train_loss"])


def test_learns_evaluates_and_predicts(chunks: Path, tmp_path: Path) -> None:
    res = _run(
        tmp_path,
        chunks,
        _train_params(epochs=8, batch_size=4, roll_prob=0.0),
        MODEL.model_copy(update={"width": 8, "dropout": 0.0}),
    )
    out = evaluate(
        chunks,
        res.checkpoint,
        tmp_path / "m.json",
        tmp_path / "per_class.json",
        tmp_path / "pred.csv",
        tmp_path / "cm.png",
        DATA,
        AedEvaluateParams(map_top_k=10),
        device="cpu",
    )
    assert 0.0 <= out.accuracy <= 1.0 and out.map >= out.accuracy
    assert (tmp_path / "cm.png").stat().st_size > 1000
    index = read_index(chunks)
    path = Path(index.file_path[0])
    (pred,) = predict_files(res.checkpoint, [path], results=2, confidence=0.0, overlap=2.0, device="cpu")
    assert pred.sample_rate == 16000 and len(pred.top) == 2
    assert pred.top[0][1] >= pred.top[1][1] and {c for c, _ in pred.top} <= set(index.classes)
    assert "ms/chunk compute" in pred.render()
    # the model learns: training loss falls and accuracy ends above chance (1/3) on this 3-class set
    import pandas as pd

    hist = pd.read_csv(res.history_csv)
    assert hist["train_loss"].iloc[-2:].mean() < hist["train_loss"].iloc[:2].mean()
    assert hist["train_accuracy"].iloc[-2:].mean() > 0.5


# --------------------------------------------------------------------------- #
# Resuming repeats an uninterrupted run; divergence and leftovers             #
# --------------------------------------------------------------------------- #

TIMING = ["seconds", "chunks_per_second"]  # wall-clock columns, the only ones allowed to differ


@pytest.mark.slow
@pytest.mark.usefixtures("one_torch_thread")
@pytest.mark.parametrize("num_workers", [0, 2])
def test_resumed_training_is_byte_identical_to_an_uninterrupted_one(
    chunks: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, num_workers: int
) -> None:
    p = _train_params(epochs=3, roll_prob=0.5, num_workers=num_workers)  # frequency-roll augmentation on
    reference = _run(tmp_path / "uninterrupted", chunks, p)
    kill_after_first_epoch(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        _run(tmp_path / "resumed", chunks, p)
    assert torch.load(tmp_path / "resumed" / "state" / "last.pt", weights_only=False)["epoch"] == 0
    resumed = _run(tmp_path / "resumed", chunks, p)
    assert sha256(resumed.checkpoint) == sha256(reference.checkpoint)
    pd.testing.assert_frame_equal(
        pd.read_csv(resumed.history_csv).drop(columns=TIMING), pd.read_csv(reference.history_csv).drop(columns=TIMING)
    )
    # the weights after the last epoch too, not only the kept best
    final, ref_final = (
        torch.load(d / "state" / "last.pt", weights_only=False)["model"]
        for d in (tmp_path / "resumed", tmp_path / "uninterrupted")
    )
    assert all(torch.equal(final[k], ref_final[k]) for k in ref_final)


@pytest.mark.usefixtures("one_torch_thread")
def test_leftovers_of_a_killed_write_are_removed_on_the_next_start(
    chunks: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "state").mkdir()
    leftovers = [tmp_path / "state" / ".last.pt.tmp-4242", tmp_path / ".model.pt.tmp-999999999"]
    for f in leftovers:
        f.write_bytes(b"\0" * 1000)
    unrelated = tmp_path / "state" / "notes.tmp-1"
    unrelated.write_text("not ours")
    _run(tmp_path, chunks, _train_params(epochs=1))
    assert not any(f.exists() for f in leftovers) and unrelated.exists()
    out = capsys.readouterr().out
    assert all(f"removed {f}" in out for f in leftovers)


@pytest.mark.usefixtures("one_torch_thread")
def test_a_diverging_loss_fails_the_stage_and_writes_nothing(chunks: Path, tmp_path: Path) -> None:
    with pytest.raises(
        training_state.TrainingDiverged,
        match=r"aed_train .*training diverged at epoch 1 .*loss is nan.*aed\.train\.lr_start = inf",
    ):
        # the reproduction; model_copy skips validation, which may come to refuse inf itself
        _run(tmp_path, chunks, _train_params(epochs=2).model_copy(update={"lr_start": float("inf")}))
    assert not any((tmp_path / name).exists() for name in ("model.pt", "hist.csv", "train.json", "state/last.pt"))


class _Draws(torch.utils.data.Dataset):
    """Each item is one draw of the dataset's augmentation generator, as ChunkDataset's rolls are."""

    def __init__(self) -> None:
        self.rng = np.random.default_rng(0)

    def __len__(self) -> int:
        return 4

    def __getitem__(self, i: int) -> float:
        return float(self.rng.random())


def test_loader_workers_draw_distinct_augmentation_every_epoch() -> None:
    gen = torch.Generator().manual_seed(0)
    dl = torch.utils.data.DataLoader(
        _Draws(), batch_size=1, num_workers=2, generator=gen, worker_init_fn=seed_worker_augmentation
    )
    draws = [float(x) for _ in range(2) for x in dl]
    # copies of one generator would give both workers, and every epoch, the same draws
    assert len(set(draws)) == len(draws) == 8
