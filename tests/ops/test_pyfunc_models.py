"""Each workflow's checkpoint as an MLflow Model answers what the project's own inference computes for the same
input: segmentation's label maps (``soundflow segment``), the AED's scores with the run's chunk overlap,
localisation's maps (the evaluation's), the transcoder's Mel and the teacher's probabilities (its evaluation's).

(The AED model is served over REST, and ``soundflow register`` logs the transcoder's, in
tests/ops/test_registry_and_s3.py.)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

import models
from soundflow.checkpoints import save_checkpoint
from soundflow.pipeline.ops import pyfunc_models
from tasks.segmentation.predict import predict_folder
from tests.helpers import tiny_checkpoints

SIZE = (32, 64)  # the network's input: sides multiples of 8


def _seg_checkpoint(path: Path) -> Path:
    import torch

    torch.manual_seed(0)
    model = models.get("erfnet")(num_classes=3)
    for m in model.modules():  # running statistics away from their initial values: the eval path is exercised
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
    contents = {"model_name": "erfnet", "model_kwargs": {"num_classes": 3}, "state_dict": model.state_dict(),
                "classes": ["road", "building", "sky"], "input_size": list(SIZE)}  # fmt: skip
    return save_checkpoint(path, contents)


def test_segmentation_model_answers_the_label_maps_of_soundflow_segment(tmp_path: Path, one_torch_thread) -> None:
    import mlflow.pyfunc

    checkpoint = _seg_checkpoint(tmp_path / "model.pt")
    assert pyfunc_models.save_model("seg_train", checkpoint, tmp_path / "mlflow-model")
    model = mlflow.pyfunc.load_model(str(tmp_path / "mlflow-model"))
    assert model.metadata.signature is not None and model.metadata.saved_input_example_info is not None
    images = np.random.default_rng(1).integers(0, 256, (2, 40, 72, 3), dtype=np.uint8)  # not the network's size
    (tmp_path / "images").mkdir()
    for i, rgb in enumerate(images):
        Image.fromarray(rgb).save(tmp_path / "images" / f"{i}.png")
    predict_folder(checkpoint, tmp_path / "images", tmp_path / "out", size=SIZE, device="cpu")
    served = model.predict(images)
    assert served.shape == (2, 40, 72) and served.dtype == np.uint8
    for i in range(2):
        assert np.array_equal(served[i], np.asarray(Image.open(tmp_path / "out" / f"{i}_labels.png")))
    assert not pyfunc_models.save_model("transcoder_pinv", checkpoint, tmp_path / "none")  # no wrapper: the file stays


def _load(stage: str, checkpoint: Path, dest: Path, params=None, upstream=None):
    import mlflow.pyfunc

    assert pyfunc_models.save_model(stage, checkpoint, dest, params, upstream)
    model = mlflow.pyfunc.load_model(str(dest))
    assert model.metadata.signature is not None and model.metadata.saved_input_example_info is not None
    assert (dest / "artifacts" / checkpoint.name).read_bytes() == checkpoint.read_bytes()  # the raw checkpoint
    return model


def test_aed_model_chunks_audio_with_the_overlap_of_the_run(tmp_path: Path, one_torch_thread) -> None:
    from tasks.aed.predict import Predictor

    checkpoint = tiny_checkpoints.aed(tmp_path / "model.pt")
    model = _load("aed_train", checkpoint, tmp_path / "m", {"aed.predict.overlap": "0.5"})
    assert model.model_config == {"overlap": 0.5}
    wave = np.random.default_rng(3).normal(0, 0.1, 7 * 8000).astype(np.float32)  # 7 s at 8 kHz: resampled
    served = model.predict(pd.DataFrame({"waveform": [wave.tolist()], "sample_rate": [8000.0]})).to_numpy()[0]
    expected = {o: Predictor(checkpoint, o).waveform_scores(wave, 8000) for o in (0.5, 2.0)}
    np.testing.assert_allclose(served, expected[0.5], atol=1e-6)
    assert np.abs(expected[0.5] - expected[2.0]).max() > 1e-4  # another overlap pools other chunks
    # a run that did not log it: the project's params.yaml gives it
    unlogged = _load("aed_train", checkpoint, tmp_path / "m2")
    assert unlogged.model_config == {"overlap": 2.0}


def _loc_params() -> dict[str, str]:
    """The localisation parameters of a run, as MLflow keeps them (text)."""
    values = {"data.frame_side": 40, "data.clip_seconds": 0.5, "evaluate.map_class_threshold": 0.3,
              "evaluate.class_aware": True, "evaluate.normalise_pixels": True}  # fmt: skip
    return {f"localisation.{k}": str(v) for k, v in values.items()}


@pytest.mark.slow
def test_localisation_model_answers_the_evaluations_maps(tmp_path: Path, one_torch_thread) -> None:
    import soundfile as sf
    import torch

    from soundflow.pipeline.config import load_params
    from tasks.localisation.data import PairDataset
    from tasks.localisation.evaluate import predict_maps
    from tasks.localisation.infer import Localiser, MapOptions

    checkpoint = tiny_checkpoints.localisation(tmp_path / "stage2.pt")
    model = _load("loc_stage2", checkpoint, tmp_path / "m", _loc_params())
    assert model.model_config["frame_side"] == 40 and model.model_config["class_aware"] is True
    rng = np.random.default_rng(4)
    images = [rng.integers(0, 256, (30, 50, 3), dtype=np.uint8), rng.integers(0, 256, (64, 48, 3), dtype=np.uint8)]
    Image.fromarray(images[1]).save(tmp_path / "frame.png")
    waves = [rng.normal(0, 0.2, 8000).astype(np.float32), rng.normal(0, 0.2, 22050).astype(np.float32)]
    sf.write(tmp_path / "clip.wav", waves[1], 22050, subtype="FLOAT")
    # one call per input form: a row of the other form would hold missing values MLflow's schema refuses
    arrays = {"image": [images[0].tolist()], "waveform": [waves[0].tolist()], "sample_rate": [16000.0]}
    paths = {"image_path": [str(tmp_path / "frame.png")], "audio_path": [str(tmp_path / "clip.wav")]}
    served = pd.concat([model.predict(pd.DataFrame(arrays)), model.predict(pd.DataFrame(paths))], ignore_index=True)

    local = Localiser(checkpoint, 40, 0.5, MapOptions(0.3, True, True), device="cpu")
    clips = [local.audio_at_rate(waves[0], 16000), waves[1]]
    # one pair a call, as served (a batch's convolutions round otherwise, by 1e-6)
    singles = [local.localise([im], [w]) for im, w in zip(images, clips)]
    own = {k: np.concatenate([o[k] for o in singles]) for k in singles[0]}
    heatmaps = np.array(served["heatmap"].tolist())
    assert heatmaps.shape == (2, 40, 40) and heatmaps.min() >= 0 and np.isclose(heatmaps.max(), 1)  # max-normalised
    np.testing.assert_allclose(heatmaps, own["heatmap"], atol=1e-6)
    np.testing.assert_allclose(np.array(served["class_activation"].tolist()), own["class_activation"], atol=1e-6)
    np.testing.assert_allclose(served["correspondence"].to_numpy(), own["correspondence"], atol=1e-6)
    assert ((0 < own["correspondence"]) & (own["correspondence"] < 1)).all()

    # the evaluation's maps of the same pairs as a feature store holds them (frame, clip's log-mel), one batch
    rep, both = local.rep, local.localise(images, clips)
    columns = {"video": np.concatenate([rep.frame(im) for im in images]),
               "audio": np.stack(rep.audio([rep.clip(w) for w in clips], torch.device("cpu"))),
               "audio_label": np.zeros((2, 3), np.uint8), "visual_label": np.zeros((2, 3), np.uint8)}  # fmt: skip
    split = type("Split", (), {"column": staticmethod(lambda name: columns[name])})()
    p = load_params(Path(__file__).parents[2]).localisation
    p = p.model_copy(update={"evaluate": p.evaluate.model_copy(update={"map_class_threshold": 0.3})})
    evaluated = predict_maps(local.model, PairDataset(split), p)
    np.testing.assert_allclose(evaluated["model"], both["heatmap"], atol=1e-6)
    np.testing.assert_allclose(evaluated["class_activation"], both["class_activation"], atol=1e-6)


def test_transcoder_models_answer_the_evaluations_mel_and_probabilities(tmp_path: Path, one_torch_thread) -> None:
    import torch

    from tasks.transcoder.conditions import Transcoders, teacher_probabilities
    from tasks.transcoder.fitting import batched
    from tasks.transcoder.teacher import load_teacher

    teacher = tiny_checkpoints.teacher(tmp_path / "teacher.pt")
    mels_ckpt = tiny_checkpoints.student(tmp_path / "cnn_mels.pt", "mels", 1)
    logits_ckpt = tiny_checkpoints.student(tmp_path / "cnn_logits.pt", "logits", 2)
    served = {
        "teacher": _load("transcoder_teacher", teacher, tmp_path / "t"),
        "cnn_mels": _load("transcoder_cnn_mels", mels_ckpt, tmp_path / "cm"),
        "cnn_logits": _load(
            "transcoder_cnn_logits", logits_ckpt, tmp_path / "cl", upstream={"transcoder_teacher": teacher}
        ),  # fmt: skip
    }
    assert (tmp_path / "cl" / "artifacts" / "teacher.pt").read_bytes() == teacher.read_bytes()
    third = np.random.default_rng(5).uniform(20, 80, (3, 8, 29)).astype(np.float32)
    mel = np.random.default_rng(6).normal(-40, 10, (3, 101, 64)).astype(np.float32)

    cpu = torch.device("cpu")  # the evaluation's own path: every condition through batched, then the teacher
    model, classes, _ = load_teacher(teacher, cpu)
    transcoders = Transcoders.load("logmel_pann", mels_ckpt, logits_ckpt, cpu)
    own_mels = {c: batched(transcoders.of(c), torch.from_numpy(third), cpu) for c in ("cnn_mels", "cnn_logits")}
    own = teacher_probabilities(model, {"mel": torch.from_numpy(mel), **own_mels}, cpu)

    out = served["cnn_mels"].predict(third)
    assert out.shape == (3, 101, 64) and out.dtype == np.float32
    np.testing.assert_allclose(out, own_mels["cnn_mels"].numpy(), atol=1e-6)
    for name, x, key in (("teacher", mel, "mel"), ("cnn_logits", third, "cnn_logits")):
        probs = served[name].predict(x)
        assert list(probs.columns) == classes
        np.testing.assert_allclose(probs.to_numpy(), own[key], atol=1e-6)
    with pytest.raises(LookupError, match="transcoder_teacher"):  # CNN-logits answers through its teacher only
        pyfunc_models.save_model("transcoder_cnn_logits", logits_ckpt, tmp_path / "alone")
