"""Videos as input of the audiovisual store: frames at 1 fps with the matching second of audio."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from tasks.features.audiovisual import AudioVisualSplit, PairError
from tasks.features.video import VideoError, read_video_second, video_seconds
from tasks.localisation.build import build_split_stores, representation
from tasks.localisation.pairs import write_video_records
from tasks.localisation.params import LocDataParams
from tests.helpers.video import write_video

DATA = LocDataParams(frame_side=256, clip_seconds=1.0, max_boxes=4, shard_size=8, max_bad_fraction=0.0)


def test_video_seconds_become_256x256_frames_with_their_second_of_audio_as_logmel(tmp_path: Path) -> None:
    colours, wave = write_video(tmp_path / "street.mkv", seconds=3)
    assert video_seconds(tmp_path / "street.mkv") == 3
    table = pd.DataFrame({"video": [tmp_path / "street.mkv"], "audio_labels": [[1]], "visual_labels": [[1, 2]]})
    for split in ("train", "val", "test"):  # the loc_features builder reads every split
        write_video_records(table, tmp_path / "pairs", split)
    summary = build_split_stores(tmp_path / "pairs", tmp_path / "h5", tmp_path / "s.json", DATA, ["a", "b", "c"])
    assert summary["splits"]["train"] == {"pairs": 3, "skipped": 0}
    rep = representation(DATA, 3)
    split = AudioVisualSplit(tmp_path / "h5/train", rep)
    video = split.column("video")
    assert video.shape == (3, 256, 256, 3) and video.dtype == np.uint8
    for i in range(3):  # each stored frame is its own second's (flat colour, lossless codec)
        assert np.abs(video[i].reshape(-1, 3).astype(int) - colours[i]).max() <= 1
    expected = rep.logmel.compute([wave[i * 22050 : (i + 1) * 22050] / 32768.0 for i in range(3)], torch.device("cpu"))
    audio = split.column("audio")
    for i in range(3):
        assert np.allclose(audio[i], expected[i].astype(np.float32), atol=0.02)  # float16 log-mel
        assert not np.allclose(audio[i], expected[(i + 1) % 3], atol=0.5)  # another second's sine differs
    assert split.column("audio_label").tolist() == [[0, 1, 0]] * 3
    assert split.column("visual_label").tolist() == [[0, 1, 1]] * 3
    split.close()


def test_audio_past_the_end_is_zero_and_a_broken_video_names_its_file(tmp_path: Path) -> None:
    _, wave = write_video(tmp_path / "v.mkv", seconds=2)
    frame, clip = read_video_second(tmp_path / "v.mkv", 1, clip_seconds=2.0, sample_rate=22050)
    assert frame.shape == (60, 80, 3)
    assert np.allclose(clip[: 3 * 22050 // 2], wave[22050 // 2 :] / 32768.0, atol=1e-4)  # centred on t = 1.5 s
    assert not clip[3 * 22050 // 2 :].any()
    (tmp_path / "bad.mkv").write_bytes(b"not a video")
    with pytest.raises(VideoError, match="bad.mkv"):
        video_seconds(tmp_path / "bad.mkv")
    (tmp_path / "r.json").write_text('{"video": "bad.mkv", "second": 0}')
    with pytest.raises(PairError, match="bad.mkv"):
        representation(DATA, 3).read(tmp_path / "r.json")
