"""The audiovisual scene writer: ``generate_av_scenes`` (image, clip, annotation XML and pair record per sample).

Layout of ``out_dir``: ``<split>/<id>.png`` (RGB), ``<id>.wav`` (mono 16-bit), ``<id>.xml`` (boxes of the
sounding objects by three annotators, SoundNet-Flickr format with a ``class`` per object), ``<id>.json``
(the pair record the HDF5 build reads: file names, box frame, audio and visual labels) and
``pairs.csv`` (``path, label, fold``: the record, the audio labels joined by ``;``, the split).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
from PIL import Image
from tqdm import tqdm

from soundflow.io import CC0_README_SECTION, generated_folder
from tasks.datasets.soundnet_flickr import Box, write_flickr_xml
from tasks.procedural.av_scenes.looks import LOOKS, draw_background, draw_object
from tasks.procedural.urban_sounds import CLASSES, synthesize_background, synthesize_event
from tasks.procedural.urban_sounds.backgrounds import BACKGROUNDS
from tasks.procedural.urban_sounds.dsp import unit_rms

GENERATOR_VERSION = "1"
SPLITS = ("train", "val", "test")
_README_TITLE = "# Procedural audiovisual scenes (soundflow av_scenes)"


@dataclass(frozen=True)
class SceneSetup:
    """What one scene may hold (``localisation.scenes`` in params.yaml)."""

    categories: tuple[str, ...]  # urban-sound classes, one per category, in category order
    image_side: int
    clip_seconds: float
    sample_rate: int
    two_source_prob: float  # chance of a second sounding object
    distractors: tuple[int, int]  # silent objects per scene, inclusive range
    object_side: tuple[float, float]  # object side as a fraction of the image side
    annotators: int
    box_jitter: float  # annotator box edge jitter, as a fraction of the object side
    snr_db: tuple[float, float]  # a source of the middle object size over the background


def _place(n: int, setup: SceneSetup, rng: np.random.Generator) -> list[tuple[int, int, int, int]]:
    """``n`` boxes at random places and sizes, overlapping each other by at most a little."""
    boxes: list[tuple[int, int, int, int]] = []
    side = setup.image_side
    for _ in range(200 * n):
        if len(boxes) == n:
            break
        s = int(round(rng.uniform(*setup.object_side) * side))
        x0, y0 = (int(v) for v in rng.integers(0, side - s + 1, 2))
        cand = (x0, y0, x0 + s, y0 + s)
        if all(_overlap(cand, b) < 0.1 * s * s for b in boxes):
            boxes.append(cand)
    return boxes


def _overlap(a: tuple[int, ...], b: tuple[int, ...]) -> int:
    return max(0, min(a[2], b[2]) - max(a[0], b[0])) * max(0, min(a[3], b[3]) - max(a[1], b[1]))


def _annotators(box: tuple[int, ...], category: int, setup: SceneSetup, rng: np.random.Generator) -> list[Box]:
    s = box[2] - box[0]
    out = []
    for a in range(setup.annotators):
        j = rng.normal(0, setup.box_jitter * s, 4)
        x0, y0 = max(0.0, box[0] + j[0]), max(0.0, box[1] + j[1])
        x1, y1 = min(setup.image_side, box[2] + j[2]), min(setup.image_side, box[3] + j[3])
        out.append(Box(a, x0, y0, max(x1, x0 + 1), max(y1, y0 + 1), category))
    return out


def _audio(sounding: list[int], sides: list[int], setup: SceneSetup, rng: np.random.Generator) -> np.ndarray:
    """The sounding categories' events over a street background. Each source's amplitude is proportional to
    its object's side in the image: both go as 1 / distance (a source twice as near looks twice as big and
    sounds twice as loud), so the loudness of each source tells the objects of one category apart."""
    mid = np.mean(setup.object_side) * setup.image_side
    sources = sum(
        unit_rms(synthesize_event(setup.categories[c], setup.clip_seconds, setup.sample_rate, rng)) * (side / mid)
        for c, side in zip(sounding, sides)
    )
    bg = synthesize_background(str(rng.choice(BACKGROUNDS)), setup.clip_seconds, setup.sample_rate, rng)
    snr = rng.uniform(*setup.snr_db)  # of a source of the middle size
    mix = sources + unit_rms(bg) / 10 ** (snr / 20)
    return (0.9 * mix / max(np.abs(mix).max(), 1e-9)).astype(np.float32)


def render_scene(setup: SceneSetup, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, list[Box], dict]:
    """One scene: (image uint8, clip float32, annotator boxes, labels {audio, visual})."""
    k = len(setup.categories)
    n_sounding = 2 if k > 1 and rng.random() < setup.two_source_prob else 1
    n_silent = min(int(rng.integers(setup.distractors[0], setup.distractors[1] + 1)), k - n_sounding)
    cats = [int(c) for c in rng.permutation(k)[: n_sounding + n_silent]]  # distinct categories
    boxes = _place(len(cats), setup, rng)
    cats = cats[: len(boxes)]
    img = draw_background(setup.image_side, rng)
    for c, b in zip(cats, boxes):
        draw_object(img, c, b, rng)
    sounding = cats[:n_sounding]
    truth = [a for c, b in zip(sounding, boxes) for a in _annotators(b, c, setup, rng)]
    labels = {"audio": sorted(sounding), "visual": sorted(cats)}
    sides = [b[2] - b[0] for b in boxes[:n_sounding]]
    return img.astype(np.uint8), _audio(sounding, sides, setup, rng), truth, labels


def _write_sample(folder: Path, name: str, setup: SceneSetup, rng: np.random.Generator) -> dict:
    img, clip, boxes, labels = render_scene(setup, rng)
    Image.fromarray(img).save(folder / f"{name}.png")
    sf.write(folder / f"{name}.wav", clip, setup.sample_rate, subtype="PCM_16")
    write_flickr_xml(folder / f"{name}.xml", boxes)
    record = {
        "image": f"{name}.png",
        "audio": f"{name}.wav",
        "annotation": f"{name}.xml",
        "box_frame": [setup.image_side, setup.image_side],
        "audio_labels": labels["audio"],
        "visual_labels": labels["visual"],
    }
    (folder / f"{name}.json").write_text(json.dumps(record))
    return record


def _validate(setup: SceneSetup, counts: dict[str, int]) -> None:
    if not 1 <= len(setup.categories) <= len(LOOKS):
        raise ValueError(f"categories: 1 to {len(LOOKS)} (one look each), got {len(setup.categories)}")
    unknown = sorted(set(setup.categories) - set(CLASSES))
    if unknown or len(set(setup.categories)) != len(setup.categories):
        raise ValueError(f"categories must be distinct urban-sound classes {CLASSES}; bad: {unknown or 'repeats'}")
    if sum(counts.values()) < 1:
        raise ValueError("no scene to generate: every split count is 0")


def generate_av_scenes(out_dir: Path, setup: SceneSetup, counts: dict[str, int], seed: int) -> Path:
    """``counts[split]`` scenes per split into ``out_dir`` (replaced atomically); returns ``out_dir``."""
    _validate(setup, counts)
    with generated_folder(Path(out_dir), _README_TITLE, "generate_av_scenes") as tmp:
        for s, split in enumerate(SPLITS):
            rng = np.random.default_rng([seed, s])  # each split its own stream: resizing one leaves the others
            (tmp / split).mkdir()
            rows = []
            for i in tqdm(range(counts.get(split, 0)), desc=f"av_scenes {split}", leave=False):
                rec = _write_sample(tmp / split, f"{split}_{i:05d}", setup, rng)
                rows.append((f"{split}/{split}_{i:05d}.json", ";".join(map(str, rec["audio_labels"])), split))
            pd.DataFrame(rows, columns=["path", "label", "fold"]).to_csv(tmp / split / "pairs.csv", index=False)
        lines = [
            _README_TITLE,
            "",
            "Images with sounding and silent objects, their clips and SoundNet-Flickr-style box annotations.",
            f"- Generator: `tasks.procedural.av_scenes.generate_av_scenes` (version {GENERATOR_VERSION}), seed {seed}",
            f"- Categories (index = label): {', '.join(setup.categories)}",
            f"- Scenes: {counts}",
            "",
            *CC0_README_SECTION,
        ]
        (tmp / "README.md").write_text("\n".join(lines) + "\n")
    return Path(out_dir)


def scenes_from_params(out_dir: Path, scenes, data) -> Path:
    """:func:`generate_av_scenes` from ``localisation.scenes`` (and the clip length of ``localisation.data``)."""
    setup = SceneSetup(
        categories=tuple(scenes.categories),
        image_side=scenes.image_side,
        clip_seconds=data.clip_seconds,
        sample_rate=22050,  # the localisation log-mel's rate (tasks.features.logmel.PRESETS["localisation"])
        two_source_prob=scenes.two_source_prob,
        distractors=tuple(scenes.distractors),
        object_side=tuple(scenes.object_side),
        annotators=scenes.annotators,
        box_jitter=scenes.box_jitter,
        snr_db=tuple(scenes.snr_db),
    )
    counts = {"train": scenes.n_train, "val": scenes.n_val, "test": scenes.n_test}
    return generate_av_scenes(out_dir, setup, counts, scenes.seed)
