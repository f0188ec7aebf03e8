"""Checkpoints with a content hash (soundflow.checkpoints): a round trip keeps every value, any damage is refused."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch

import models
from models.checkpoint_format import CheckpointError
from soundflow.checkpoints import HASH_KEY, content_hash, load_checkpoint, save_checkpoint
from soundflow.errors import UserError
from tests.helpers.checkpoint_tamper import PROBLEM, TAMPERS


def _contents() -> dict:
    torch.manual_seed(0)
    model = models.get("aed_cnn")(n_classes=3, input_shape=(64, 64), width=2, dense=8, dropout=0.0)
    opt = torch.optim.Adam(model.parameters())
    model(torch.zeros(2, 1, 64, 64)).sum().backward()
    opt.step()
    return {
        "model_name": "aed_cnn",
        "state_dict": model.state_dict(),
        "optimizer": opt.state_dict(),  # integer keys, nested dicts
        "numpy_rng": np.random.RandomState(3).get_state(),  # a tuple holding a uint32 array
        "bit_generator": np.random.default_rng(4).bit_generator.state,  # 128-bit integers
        "loader_rng": torch.Generator().manual_seed(5).get_state(),
        "history": [{"epoch": 1, "val_loss": float("nan"), "accuracy": np.float64(0.5)}],
        "odd_tensors": [torch.ones(3, dtype=torch.bfloat16), torch.tensor([True, False]), torch.empty(0, 4)],
        "scalar": torch.tensor(2.5),
        "classes": ("a", "b", "é"),
        "nothing": None,
        "count": np.int64(7),
    }


def _same(a: object, b: object) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape and torch.equal(a, b)
    if isinstance(a, np.ndarray):
        return isinstance(b, np.ndarray) and a.dtype == b.dtype and np.array_equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    return type(a) is type(b) and a == b


def test_a_round_trip_gives_back_every_value_without_the_hash(tmp_path: Path) -> None:
    contents = _contents()
    path = save_checkpoint(tmp_path / "m.pt", contents)
    loaded = load_checkpoint(path)
    assert HASH_KEY not in loaded and _same(contents, loaded)
    assert torch.load(path, weights_only=False)[HASH_KEY] == content_hash(contents)
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt"]  # written atomically: no temporary left


def test_the_hash_sees_every_bit_and_the_layout_but_not_the_key_order() -> None:
    base = {"w": torch.arange(6, dtype=torch.float32).reshape(2, 3), "n": 1}
    h = content_hash(base)
    assert content_hash({"n": 1, "w": base["w"]}) == h  # insertion order does not matter
    flipped = base["w"].clone()
    flipped.view(torch.int32)[0, 0] ^= 1  # one bit of one weight
    variants = [
        {**base, "w": flipped},
        {**base, "w": base["w"].reshape(3, 2)},  # same bytes, other shape
        {**base, "w": base["w"].view(torch.int32)},  # same bytes, other dtype
        {**base, "n": "1"},
        {**base, "n": 1.0},
        {**base, "n": True},
        {**base, "extra": None},
    ]
    assert len({h, *(content_hash(v) for v in variants)}) == len(variants) + 1


def test_a_value_that_cannot_be_checked_is_refused_before_anything_is_written(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "m.pt", {"w": torch.ones(2)})
    before = path.read_bytes()
    refusal = r"m.pt: not written, checkpoint\['meta'\]\['fn'\]: a function cannot be stored"
    with pytest.raises(TypeError, match=refusal):
        save_checkpoint(path, {"w": torch.zeros(2), "meta": {"fn": lambda: 0}})
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["m.pt"]


@pytest.mark.parametrize("tamper", sorted(TAMPERS))
def test_every_kind_of_damage_is_one_sentence_naming_the_file(tmp_path: Path, tamper: str) -> None:
    path = save_checkpoint(tmp_path / "model.pt", _contents())
    TAMPERS[tamper](path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path, remedy="rerun the stage that made it (dvc repro aed_train)")
    message = str(info.value)
    assert isinstance(info.value, UserError) and isinstance(info.value, ValueError)
    assert message.startswith(f"{path}: ") and "\n" not in message, message
    assert any(problem in message for problem in PROBLEM[tamper]), message
    assert message.endswith("; rerun the stage that made it (dvc repro aed_train)")
    assert isinstance(info.value, FileNotFoundError) == (tamper == "deleted")


def test_a_checkpoint_written_before_hashes_is_refused_with_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "model.pt"
    torch.save({"model_name": "aed_cnn", "state_dict": {"w": torch.ones(2)}}, path)  # the format before hashes
    with pytest.raises(CheckpointError, match="has no content hash .*; rerun the stage that made it$"):
        load_checkpoint(path)


class _RunsCode:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_replaced_file_cannot_run_code_when_loaded(tmp_path: Path) -> None:
    marker = tmp_path / "code-ran"
    path = tmp_path / "model.pt"
    torch.save({"state_dict": {}, "x": _RunsCode(marker), HASH_KEY: "0" * 64}, path)
    with pytest.raises(CheckpointError, match="not a readable checkpoint"):
        load_checkpoint(path)
    assert not marker.exists()


def test_map_location_places_the_tensors(tmp_path: Path) -> None:
    path = save_checkpoint(tmp_path / "m.pt", {"w": torch.ones(2)})
    assert load_checkpoint(os.fspath(path), map_location=torch.device("cpu"))["w"].device.type == "cpu"
