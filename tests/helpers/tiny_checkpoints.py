"""Checkpoints as the training stages write them, of untrained networks at test size (seconds, no training):
the transcoder's teacher and students, a localisation network, an AED classifier."""

from __future__ import annotations

from pathlib import Path

import torch

import models
from soundflow.checkpoints import save_checkpoint
from tests.helpers.aed import tiny_aed_features

TEACHER_CLASSES = ["car_horn", "dog_bark", "siren"]
LOC_CATEGORIES = ["car_horn", "dog_bark", "siren"]


def _state(model: torch.nn.Module, seed: int) -> dict:
    """Its weights with batch-norm statistics away from their initial values (the eval path is exercised)."""
    torch.manual_seed(seed)
    for m in model.modules():
        if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    return model.state_dict()


def teacher(path: Path, seed: int = 0) -> Path:
    """A transcoder_teacher file: a reduced CNN14 (width 4) over the PANN log-mel."""
    torch.manual_seed(seed)
    kwargs = {"n_classes": len(TEACHER_CLASSES), "width": 4}
    model = models.get("pann_cnn14")(**kwargs)
    return save_checkpoint(path, {"model_name": "pann_cnn14", "model_kwargs": kwargs, "state_dict": _state(model, seed),
                                  "classes": TEACHER_CLASSES, "vocabulary": "urbansound8k"})  # fmt: skip


def student(path: Path, loss: str, seed: int) -> Path:
    """A transcoder_cnn_<loss> file: a 3-layer residual CNN on the PINV output of the PANN log-mel."""
    torch.manual_seed(seed)
    kwargs = {"channels": 4, "layers": 3, "kernel": [3, 5]}
    model = models.get("transcoder_cnn")(**kwargs)
    model.offset.fill_(-30.0)  # as the training sets them: the PINV output's mean and deviation
    model.scale.fill_(15.0)
    return save_checkpoint(path, {"model_name": "transcoder_cnn", "model_kwargs": kwargs,
                                  "state_dict": model.state_dict(), "loss": loss, "mel": "logmel_pann"})  # fmt: skip


def localisation(path: Path, stage: int = 2) -> Path:
    """A loc_stage<stage> file: the two-stage network with small heads (its ResNet-18 trunks are fixed in size)."""
    torch.manual_seed(0)
    kwargs = {"n_classes": len(LOC_CATEGORIES), "embed_dim": 16, "proj_hidden": 32, "avc_hidden": 16}
    model = models.get("av_localisation")(**kwargs)
    contents = {"model_name": "av_localisation", "model_kwargs": kwargs, "state_dict": _state(model, 1),
                "categories": LOC_CATEGORIES, "stage": stage}  # fmt: skip
    return save_checkpoint(path, contents)


def aed(path: Path) -> Path:
    """An aed_train file over the test-size spectrogram chunks (:func:`tests.helpers.aed.tiny_aed_features`)."""
    torch.manual_seed(0)
    fp = tiny_aed_features(n_freq_bins=64)  # five conv+pool blocks need 64 x 64
    kwargs = {"n_classes": 3, "input_shape": [fp.n_freq_bins, fp.n_frames], "width": 4, "dense": 16, "dropout": 0.0}
    model = models.get("aed_cnn")(**kwargs)
    contents = {"model_name": "aed_cnn", "model_kwargs": kwargs, "state_dict": _state(model, 2),
                "classes": ["car_horn", "dog_bark", "siren"], "feature_params": fp.model_dump()}  # fmt: skip
    return save_checkpoint(path, contents)
