"""Audiovisual pairs in the feature store: the localisation workflow's HDF5 (Qian et al., 2020; docs/methods.md).

One input is a *pair record* (JSON): ``image``, ``audio`` and optional ``annotation`` (SoundNet-Flickr
XML) file names relative to the record, or instead of ``image`` and ``audio`` a ``video`` and a ``second``
(its frame at 1 fps and the matching audio: :mod:`tasks.features.video`), ``box_frame`` ([width, height] of
the boxes' pixel frame), ``audio_labels`` and ``visual_labels`` (category indices). Each stored input is one
frame (the store's ``features``, also named ``video``: (N, side, side, 3) uint8, the layout of Qian et al.'s
HDF5) and, one row per input, ``audio`` (N, T, 64) float32 log-mel of the clip cropped or padded to ``clip_seconds``,
``audio_label`` / ``visual_label`` (N, K) uint8, ``boxes`` (N, B, 4) float32 x0, y0, x1, y1 in pixels of
the stored frame, ``box_annotator`` and ``box_class`` (N, B) int16 (-1: padding; class -1: a box that
names no class). The shard attributes record every extraction parameter. :class:`AudioVisualSplit`
presents a split's store (one store per split) as one dataset.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from soundflow.audio import load_audio
from tasks.datasets.soundnet_flickr import AnnotationError, read_flickr_xml
from tasks.features.frames import load_image, resize_frames
from tasks.features.logmel import PRESETS
from tasks.features.representations import LogMelFeatures, Representation, fit_length
from tasks.features.store import FeatureStore, open_store
from tasks.features.video import read_video_second

PER_INPUT = ("audio", "audio_label", "visual_label", "boxes", "box_annotator", "box_class")


class PairError(AnnotationError):
    """A pair record that cannot be used."""


class AudioVisualFeatures(Representation):
    name = "audiovisual"
    dtype = np.dtype(np.uint8)
    aliases = {"video": "features"}

    def __init__(self, frame_side: int, clip_seconds: float, n_classes: int, max_boxes: int) -> None:
        self.frame_side, self.clip_seconds, self.n_classes, self.max_boxes = (
            frame_side,
            clip_seconds,
            n_classes,
            max_boxes,
        )
        self.item_shape = (frame_side, frame_side, 3)
        self.logmel = LogMelFeatures(PRESETS["localisation"], clip_seconds, name="logmel_localisation")

    def describe(self) -> dict[str, Any]:
        return {
            "representation": "audiovisual",
            "frame_side": self.frame_side,
            "resize": "PIL bilinear, aspect not kept",
            "audio": {**self.logmel.describe(), "stored_dtype": "float32"},
            "n_classes": self.n_classes,
            "max_boxes": self.max_boxes,
            "dtype": self.dtype.name,
        }

    def read(self, path: str | os.PathLike[str]) -> dict[str, Any]:
        path = Path(path)
        try:
            rec = json.loads(path.read_text())
            folder = path.parent
            boxes = read_flickr_xml(folder / rec["annotation"]) if rec.get("annotation") else []
            if rec.get("video"):
                sr = self.logmel.sample_rate
                image, wave = read_video_second(folder / rec["video"], int(rec["second"]), self.clip_seconds, sr)
            else:
                image = load_image(folder / rec["image"])
                wave = load_audio(folder / rec["audio"], self.logmel.sample_rate)
            return {
                "image": image,
                "wave": wave,
                "boxes": boxes,
                "box_frame": rec.get("box_frame"),
                "labels": (rec.get("audio_labels", []), rec.get("visual_labels", [])),
            }
        except (OSError, ValueError, KeyError, TypeError) as err:
            if isinstance(err, AnnotationError):  # an image, audio or annotation error names its own file
                raise
            raise PairError(path, f"unreadable pair record ({type(err).__name__}: {err})") from None

    def fit(self, x: dict[str, Any]) -> dict[str, Any] | str:
        if len(x["boxes"]) > self.max_boxes:
            return f"{len(x['boxes'])} boxes > max_boxes {self.max_boxes}"
        bad = [c for c in [*x["labels"][0], *x["labels"][1]] if not 0 <= int(c) < self.n_classes]
        if bad:
            return f"labels {bad} outside the {self.n_classes} categories"
        h, w = x["image"].shape[:2]
        fw, fh = x["box_frame"] or (w, h)
        sx, sy = self.frame_side / fw, self.frame_side / fh
        boxes = np.full((self.max_boxes, 4), -1, np.float32)
        meta = np.full((2, self.max_boxes), -1, np.int16)
        for i, b in enumerate(x["boxes"]):
            boxes[i] = (b.x0 * sx, b.y0 * sy, b.x1 * sx, b.y1 * sy)
            meta[:, i] = (b.annotator, b.category)
        hot = np.zeros((2, self.n_classes), np.uint8)
        for row, labels in enumerate(x["labels"]):
            hot[row, [int(c) for c in labels]] = 1
        return {
            "features": self.frame(x["image"]),
            "wave": self.clip(x["wave"]),
            "audio_label": hot[0],
            "visual_label": hot[1],
            "boxes": boxes,
            "box_annotator": meta[0],
            "box_class": meta[1],
        }

    def frame(self, image: np.ndarray) -> np.ndarray:
        """(H, W, 3) uint8 -> the stored frame (1, side, side, 3) uint8."""
        return resize_frames(image[None], self.frame_side)

    def clip(self, wave: np.ndarray) -> np.ndarray:
        """A mono waveform at the log-mel's rate cropped or zero-padded to ``clip_seconds``."""
        return fit_length(wave, round(self.clip_seconds * self.logmel.sample_rate))

    def audio(self, clips: list[np.ndarray], device: torch.device) -> list[np.ndarray]:
        """The stored ``audio`` of each :meth:`clip`: (T, 64) float32 log-mel (its float16 values, as stored)."""
        return [m.astype(np.float32) for m in self.logmel.compute(clips, device)]

    def compute(self, xs: list[dict[str, Any]], device: torch.device) -> list[dict[str, np.ndarray]]:
        mels = self.audio([x["wave"] for x in xs], device)
        return [{**{k: v for k, v in x.items() if k != "wave"}, "audio": m} for x, m in zip(xs, mels)]


class AudioVisualSplit:
    """One split's audiovisual store as one dataset: ``split[i]`` -> dict of ``video`` (side, side, 3) uint8
    and the per-input arrays; ``column(name)`` -> that array for every pair (labels, boxes: small)."""

    def __init__(self, store_dir: Path, rep: AudioVisualFeatures) -> None:
        self.store: FeatureStore = open_store(store_dir, rep)
        self.rep = rep
        self._first = np.cumsum([0] + [int(s["n_clips"]) for s in self.store.manifest["shards"]])

    def __len__(self) -> int:
        return len(self.store)

    def _locate(self, i: int) -> tuple[Any, int]:
        if not 0 <= i < len(self):
            raise IndexError(i)
        s = int(np.searchsorted(self._first, i, side="right")) - 1
        return self.store._file(s), i - int(self._first[s])

    def __getitem__(self, i: int) -> dict[str, np.ndarray]:
        h5, j = self._locate(int(i))
        return {"video": h5["video"][j], **{k: h5[k][j] for k in PER_INPUT}}

    def column(self, name: str) -> np.ndarray:
        parts = []
        for s in range(len(self._first) - 1):
            h5 = self.store._file(s)
            if name in h5:
                parts.append(h5[name][:])
        return np.concatenate(parts)

    @property
    def ids(self) -> list[str]:
        return [Path(p).stem for p in self.store.table["path"]]

    def close(self) -> None:
        self.store.close()
