"""Splits by clip, chunk labels from event times, chunk alignment and the grouping head."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tasks.transcoder.heads import grouping_scores, load_groups
from tasks.transcoder.pairs import chunks_of_clip
from tasks.transcoder.sources import chunk_labels, multi_hot, parse_events, split_by_clip

GROUPING = Path(__file__).resolve().parents[3] / "configs" / "transcoder_grouping.yaml"


def test_split_by_clip_is_seeded_and_covers_each_clip_once() -> None:
    a, b = split_by_clip(80, 0.125, 0.125, 3), split_by_clip(80, 0.125, 0.125, 3)
    assert (a == b).all() and len(a) == 80
    assert (a == "test").sum() == 10 and (a == "val").sum() == 10 and (a == "train").sum() == 60
    assert not (split_by_clip(80, 0.125, 0.125, 4) == a).all()
    with pytest.raises(ValueError, match="at least 3"):
        split_by_clip(2, 0.1, 0.1, 0)


def test_chunk_labels_from_events_and_from_clip_labels() -> None:
    events = "dog_bark@0.500-1.050;siren@1.200-3.000"
    assert parse_events(events) == [("dog_bark", 0.5, 1.05), ("siren", 1.2, 3.0)]
    assert chunk_labels("dog_bark;siren", events, 0, 0.1) == {"dog_bark"}
    assert chunk_labels("dog_bark;siren", events, 1, 0.1) == {"siren"}  # the bark's 0.05 s in second 1 is too short
    assert chunk_labels("dog_bark;siren", events, 1, 0.0) == {"dog_bark", "siren"}
    assert chunk_labels("engine;dog", "", 5, 0.1) == {"engine", "dog"}  # clip-level truth without event times
    assert multi_hot([{"b"}, {"a", "c"}, set()], ["a", "b"]).tolist() == [[0, 1], [1, 0], [0, 0]]


def test_chunks_pair_whole_seconds_of_both_stores() -> None:
    # 10 s at 32 kHz: 80 third-octave frames, 1001 PANN frames (centred), 996 YAMNet frames at 16 kHz
    assert chunks_of_clip(80, 1001, "logmel_pann") == 10
    assert chunks_of_clip(80, 1000, "logmel_pann") == 9  # the last second needs its 101st frame
    assert chunks_of_clip(80, 1 + (160000 - 512) // 160, "logmel_yamnet") == 10
    assert chunks_of_clip(7, 101, "logmel_pann") == 0


def test_grouping_head_takes_the_max_of_each_group() -> None:
    targets = [
        "engine",
        "machinery-impact",
        "non-machinery-impact",
        "powered-saw",
        "alert-signal",
        "music",
        "human-voice",
        "dog",
    ]
    groups = load_groups(GROUPING, "urbansound8k", "sonyc_coarse", targets)
    assert groups["alert-signal"] == ["car_horn", "siren"]
    teacher = ["car_horn", "siren", "dog_bark", "air_conditioner"]
    probs = np.array([[0.2, 0.7, 0.1, 0.9], [0.6, 0.1, 0.8, 0.0]])
    s = grouping_scores(probs, teacher, groups)
    assert s[:, targets.index("alert-signal")].tolist() == pytest.approx([0.7, 0.6])
    assert s[:, targets.index("dog")].tolist() == pytest.approx([0.1, 0.8])
    assert not s[:, targets.index("engine")].any()  # engine_idling is not among these teacher classes
    with pytest.raises(ValueError, match="no groups.'audioset->dog'"):
        load_groups(GROUPING, "audioset", "dog", targets)


class _NoTranscoding:
    def of(self, name: str) -> None:
        raise AssertionError(f"{name} transcoded")


def test_heads_on_true_mel_outputs_never_transcode_the_training_chunks() -> None:
    import dataclasses

    import pandas as pd
    import torch

    from tasks.transcoder.evaluate import Context, head_inputs
    from tasks.transcoder.pairs import Pairs
    from tests.helpers.transcoder import tiny_params

    torch.manual_seed(0)
    teacher = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(101 * 64, 3)).eval()
    mel = np.random.default_rng(0).normal(size=(5, 101, 64)).astype(np.float32)
    pairs = Pairs(np.zeros((5, 8, 29), np.float32), mel, np.arange(5), np.zeros(5, int), pd.DataFrame())
    p = tiny_params()
    p = p.model_copy(update={"heads": p.heads.model_copy(update={"train_input": "mel"})})
    cpu = torch.device("cpu")
    ctx = Context(teacher, ["a", "b", "c"], "urbansound8k", _NoTranscoding(), p, None, cpu, "logmel_pann")
    out = head_inputs(ctx, pairs)
    assert set(out) == {"mel"}
    with torch.no_grad():
        expected = torch.sigmoid(teacher(torch.from_numpy(mel))).numpy()
    np.testing.assert_allclose(out["mel"], expected, rtol=1e-5, atol=1e-6)
    own = p.model_copy(update={"heads": p.heads.model_copy(update={"train_input": "own"})})
    with pytest.raises(AssertionError, match="pinv transcoded"):  # each input's head needs each input's outputs
        head_inputs(dataclasses.replace(ctx, p=own), pairs)
