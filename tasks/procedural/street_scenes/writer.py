"""The dataset writer: scenes in the Cityscapes layout (``generate_street_scenes``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from soundflow.io import generated_folder
from tasks.datasets.cityscapes import ID_TO_COLOR
from tasks.procedural.checks import is_int
from tasks.procedural.readme import generator_readme
from tasks.procedural.street_scenes.render import render_scene

__all__ = ["CITIES", "FRAME", "GENERATOR_VERSION", "SPLITS", "generate_street_scenes"]

# Bump when the scene model changes, so datasets generated with the same seed are known to differ.
GENERATOR_VERSION = "1"

SPLITS: tuple[str, ...] = ("train", "val", "test")  # split_index = position here
CITIES: dict[str, tuple[str, ...]] = {  # disjoint per split, as in Cityscapes
    "train": ("synthville", "procburg", "randomstadt", "noisegart"),
    "val": ("pixelheim", "meshdorf"),
    "test": ("voxelona",),
}
FRAME = 19  # Cityscapes annotates the 20th frame of each 30-frame snippet

# The title marks a folder as this generator's output (generated_folder replaces only such folders) and the
# README's text is part of the dataset's bytes, which DVC hashes: both keep the wording they had when the
# generator was tasks/datasets/street_scenes.py, so earlier datasets stay replaceable and unchanged.
_README_TITLE = "# Synthetic Cityscapes-style street scenes (soundflow street_scenes)"


def _validate(n_train: object, n_val: object, n_test: object, height: object, width: object, seed: object) -> None:
    for name, v in (("n_train", n_train), ("n_val", n_val), ("n_test", n_test)):
        if not is_int(v) or v < 0:  # type: ignore[operator]
            raise ValueError(f"{name} must be an integer >= 0, got {v!r}")
    if n_train + n_val + n_test < 1:  # type: ignore[operator]
        raise ValueError("n_train + n_val + n_test must be >= 1: nothing to generate")
    for name, v in (("height", height), ("width", width)):
        if not is_int(v) or not 32 <= v <= 4096:  # type: ignore[operator]
            raise ValueError(f"{name} must be an integer in 32..4096 pixels, got {v!r}")
    if not is_int(seed) or seed < 0:  # type: ignore[operator]
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")


def _readme_text(params: dict[str, object], counts: dict[str, int]) -> str:
    about = [
        "Procedurally generated street scenes in the Cityscapes layout, for semantic segmentation",
        "(`leftImg8bit/<split>/<city>/<city>_<seq>_<frame>_leftImg8bit.png`,",
        "`gtFine/<split>/<city>/<city>_<seq>_<frame>_gtFine_labelIds.png` and `..._gtFine_color.png`).",
        "No photograph is involved: every image is drawn from a seeded scene model (perspective street,",
        "buildings, vegetation, road users, lighting). Labels are Cityscapes labelIds; map them to the 19",
        "trainIds with `tasks.datasets.cityscapes.LABEL_TO_TRAIN`. Instance ids and polygon files",
        "are not written. The test split carries true labels (the real one withholds them).",
    ]
    seeding = [
        "Image i of split s (train 0, val 1, test 2) is rendered from",
        "`numpy.random.default_rng([seed, s, i])` and belongs to city `CITIES[split][i % n_cities]`,",
        f"sequence `i // n_cities`, frame {FRAME}. Re-running the generator with the same parameters",
        "reproduces these files byte for byte.",
    ]
    generator = f"`tasks.datasets.street_scenes.generate_street_scenes` (model version {GENERATOR_VERSION})"
    images = "- Images: " + ", ".join(f"{s} {n}" for s, n in counts.items())
    return generator_readme(_README_TITLE, about, generator, params, [images], seeding)


def _save_png(arr: np.ndarray, path: Path) -> None:
    Image.fromarray(arr).save(path, format="PNG", compress_level=4)


def generate_street_scenes(
    out_dir: Path,
    *,
    n_train: int,
    n_val: int,
    n_test: int = 0,
    height: int = 256,
    width: int = 512,
    seed: int = 0,
    progress: bool = True,
) -> Path:
    """Write procedural street scenes in the Cityscapes layout under ``out_dir`` and return it.

    Image ``i`` of split ``s`` (train 0, val 1, test 2) is rendered from
    ``np.random.default_rng([seed, s, i])`` and named
    ``<city>_<i // n_cities:06d>_000019`` with ``city = CITIES[split][i % n_cities]``, so it does not
    depend on how many images are generated. The dataset is built in a sibling temporary directory
    and moved into place with a rename, replacing a previous output of this function at
    ``out_dir``; an interrupted run never leaves a complete-looking ``out_dir``.

    Args:
        out_dir: dataset root to create; an earlier output of this function there is replaced.
        n_train, n_val, n_test: images per split (>= 0 each, >= 1 in all); a split with 0 images
            gets no folder.
        height, width: image size in pixels (32..4096 each).
        seed: base seed (non-negative integer).
        progress: show a tqdm progress bar.

    Returns:
        ``out_dir``.

    Raises:
        ValueError: naming the offending argument when an argument is invalid.
        FileExistsError: if ``out_dir`` exists, is not empty and was not written by this function.
    """
    _validate(n_train, n_val, n_test, height, width, seed)
    out_dir = Path(out_dir)
    counts = {"train": int(n_train), "val": int(n_val), "test": int(n_test)}
    with generated_folder(out_dir, _README_TITLE, "tasks.procedural.street_scenes.generate_street_scenes") as tmp:
        jobs = [(si, split, i) for si, split in enumerate(SPLITS) for i in range(counts[split])]
        for si, split, i in tqdm(jobs, desc="street_scenes", unit="img", disable=not progress):
            _write_scene(tmp, si, split, i, height, width, seed)
        params = {"height": height, "width": width, "seed": seed, "cities": {s: list(c) for s, c in CITIES.items()}}
        (tmp / "README.md").write_text(_readme_text(params, counts), encoding="utf-8")

    return out_dir


def _write_scene(root: Path, si: int, split: str, i: int, height: int, width: int, seed: int) -> None:
    """Render image ``i`` of split ``split`` (index ``si``) and write its image, labelIds and colour labels."""
    cities = CITIES[split]
    city = cities[i % len(cities)]
    stem = f"{city}_{i // len(cities):06d}_{FRAME:06d}"
    rgb, ids = render_scene(height, width, np.random.default_rng([seed, si, i]), city)
    img_dir = root / "leftImg8bit" / split / city
    gt_dir = root / "gtFine" / split / city
    img_dir.mkdir(parents=True, exist_ok=True)
    gt_dir.mkdir(parents=True, exist_ok=True)
    _save_png(rgb, img_dir / f"{stem}_leftImg8bit.png")
    _save_png(ids, gt_dir / f"{stem}_gtFine_labelIds.png")
    _save_png(ID_TO_COLOR[ids], gt_dir / f"{stem}_gtFine_color.png")
