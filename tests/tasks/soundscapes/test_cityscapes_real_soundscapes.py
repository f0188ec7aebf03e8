"""Image -> soundscape from a real label map: the ground truth of frankfurt_000000_000294 (../shared) taken as
the segmentation of its 2048 x 1024 frame, through the stage table's ``sound_library`` and ``soundscapes``.

The map reaches the soundscapes as a prediction does: class pixel fractions of the full-resolution frame in
``fractions.csv`` (:func:`tasks.segmentation.predict.class_fractions` / ``write_fractions``, what
``seg_predict`` writes), then the committed mapping chooses the sounds from the procedural library at its
tiny size. Present: building 38.9 %, road 29.7 %, sidewalk 8.0 %, car 5.5 %, vegetation 2.0 %, sky 1.8 %,
pole 1.2 %, traffic sign 0.6 %, person 0.3 %, fence 0.1 % (11.8 % ignore). Building has no sound, so road
(traffic) is the background; car and person are the foreground events; vegetation's park ambience is left
out (one background), the other classes are silent.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import jams
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from flows.workflows.image_to_soundscape import SEG_FRACTIONS, SOUNDSCAPES
from soundflow.pipeline.config import overridden, parse_params, read_params_yaml
from soundflow.pipeline.stages import get_stage
from soundflow.pipeline.workspace import TINY
from tasks.datasets.cityscapes import TRAIN_CLASSES
from tasks.segmentation.predict import class_fractions, write_fractions
from tasks.segmentation.splits import split_dataset
from tasks.soundscapes.mapping import load_mapping
from tests.helpers.paths import CITYSCAPES_REAL, CITYSCAPES_STEM, ROOT
from tests.helpers.segmentation import frame_params

FULL = CITYSCAPES_REAL / "full_resolution" / "leftImg8bit" / "val" / "frankfurt"
FRAME = FULL / f"{CITYSCAPES_STEM}_leftImg8bit.png"

pytestmark = pytest.mark.skipif(not FRAME.is_file(), reason=f"{FRAME} not present")

PRESENT = {"road", "sidewalk", "building", "fence", "pole", "traffic sign", "vegetation", "sky", "person", "car"}


@pytest.fixture(scope="module")
def frame_fractions() -> dict[str, float]:
    ground_truth = split_dataset(frame_params(CITYSCAPES_REAL), CITYSCAPES_REAL, "val").read_train_ids(0)
    with Image.open(FRAME) as im:
        size = im.size
    assert size == (2048, 1024)
    full = np.asarray(Image.fromarray(ground_truth).resize(size, Image.NEAREST))  # each label pixel 8 x 8
    fractions = class_fractions(full, list(TRAIN_CLASSES))
    assert fractions == pytest.approx(class_fractions(ground_truth, list(TRAIN_CLASSES)), abs=1e-15)
    return fractions


def test_the_classes_present_choose_the_sounds(frame_fractions: dict[str, float], tmp_path: Path) -> None:
    p = parse_params(overridden(read_params_yaml(ROOT / "params.yaml"), TINY, ROOT), ROOT / "params.yaml")
    (tmp_path / "configs").mkdir()
    shutil.copy(ROOT / p.soundscapes.mapping, tmp_path / p.soundscapes.mapping)
    write_fractions([{"image": str(FRAME), **frame_fractions}], list(TRAIN_CLASSES), tmp_path / SEG_FRACTIONS)
    get_stage("sound_library").run(p, tmp_path)
    summary = get_stage("soundscapes").run(p, tmp_path)

    present = {c for c, f in frame_fractions.items() if f > 0}
    assert present == PRESENT
    assert max(present, key=frame_fractions.get) == "building"  # silent: the background is the next, road
    assert [round(frame_fractions[c], 3) for c in ("building", "road", "car", "person")] == [0.389, 0.297, 0.055, 0.003]
    row = pd.read_csv(tmp_path / SOUNDSCAPES / "summary.csv", keep_default_na=False).iloc[0]
    assert row.to_dict() == summary.iloc[0].to_dict()
    assert (row["n_soundscapes"], row["background"], row["foreground"]) == (2, "road", "car;person")
    mapping = load_mapping(tmp_path / p.soundscapes.mapping)
    mapped = {
        "background": {mapping[c].background for c in present},
        "foreground": {mapping[c].foreground for c in present},
    }
    for n in range(2):
        jam = jams.load(str(tmp_path / SOUNDSCAPES / f"{FRAME.stem}_soundscape_{n}.jams"), validate=False)
        events = [o.value for o in jam.annotations.search(namespace="scaper")[0].data]
        labels = {role: [e["label"] for e in events if e["role"] == role] for role in ("background", "foreground")}
        assert labels["background"] == ["road"] and labels["foreground"]
        assert set(labels["foreground"]) <= {"car", "person"} <= mapped["foreground"]
        assert set(labels["background"]) <= mapped["background"]
