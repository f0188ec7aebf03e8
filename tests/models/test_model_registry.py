"""A checkpoint dict names its model: from_checkpoint rebuilds it with the same weights, strictly."""

from __future__ import annotations

import pytest
import torch

import models


def test_from_checkpoint_round_trips_weights_and_applies_overrides() -> None:
    torch.manual_seed(0)
    kwargs = {"n_inputs": 8, "n_classes": 3, "hidden": 5}
    model = models.get("deep_head")(**kwargs).eval()
    ckpt = {"model_name": "deep_head", "model_kwargs": kwargs, "state_dict": model.state_dict()}
    x = torch.randn(4, 8)
    rebuilt = models.from_checkpoint(ckpt).eval()
    assert torch.equal(rebuilt(x), model(x))
    with pytest.raises(RuntimeError, match="size mismatch"):  # an override that contradicts the weights
        models.from_checkpoint(ckpt, hidden=6)


def test_from_checkpoint_refuses_missing_keys() -> None:
    kwargs = {"n_inputs": 8, "n_classes": 3, "hidden": 5}
    state = models.get("deep_head")(**kwargs).state_dict()
    state.pop(next(iter(state)))
    with pytest.raises(RuntimeError, match="Missing key"):
        models.from_checkpoint({"model_name": "deep_head", "model_kwargs": kwargs, "state_dict": state})
