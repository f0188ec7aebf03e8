"""Evaluation of the localisation model and its baselines on the test split (docs/methods.md#sound-localisation).

Per image: the model's map and the whole-image, centred-box and audio-free baselines, each binarised in
both conventions and scored by cIoU against the annotators' consensus; ``ciou_at_0.5``, mean cIoU and
AUC per method and convention (baselines under ``baseline/<name>/...``); on the two-source images the
multi-source cIoU (per class and class-agnostic). Maps are saved per sample (npz, float32: the maps that
were scored, so the metrics can be recomputed from the file exactly; in float16, pixels tied at the
top-50 % threshold of (b) would flip), with an overlay grid and the success-rate curves as PNG.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from soundflow.io import atomic_path
from soundflow.metric_files import write_metrics
from tasks.localisation import maps, metrics
from tasks.localisation.data import PairDataset, open_split
from tasks.localisation.infer import MapOptions, model_maps
from tasks.localisation.params import LocalisationParams
from tasks.localisation.plots import overlay_grid, success_plot
from tasks.localisation.train import load_model

METHODS = ("model", "class_activation", "whole_image", "centre_box", "audio_free")
BASELINES = ("whole_image", "centre_box", "audio_free")
CONVENTIONS = ("fraction", "relative_area")
HEADLINES = ("ciou_at_0.5", "auc")  # first in the metrics file: what the workflow's runs are judged by


@torch.no_grad()
def predict_maps(model, ds: PairDataset, p: LocalisationParams) -> dict[str, np.ndarray]:
    """Every method's map (N, S, S) and the model's per-class maps (N, K, S, S) and audio probabilities."""
    e, side = p.evaluate, ds.video.shape[1]
    parts: dict[str, list] = {k: [] for k in (*METHODS, "class_maps", "a_prob")}
    for lo in range(0, len(ds), e.batch_size):
        idx = range(lo, min(len(ds), lo + e.batch_size))
        frames, audio = (torch.stack([ds[i][j] for i in idx]) for j in (0, 1))
        out = model(frames, audio)
        for k, v in model_maps(model, out, side, MapOptions.of(e)).items():  # what a served model answers
            parts[k].append(v)
        parts["whole_image"].append(maps.whole_image_map(len(idx), side))
        parts["centre_box"].append(maps.centre_box_map(len(idx), side, e.centre_box_side))
        parts["audio_free"].append(maps.audio_free_map(out, side))
    return {k: torch.cat(v).float().numpy() for k, v in parts.items()}


def _binarise(m: np.ndarray, convention: str, p: LocalisationParams) -> np.ndarray:
    if convention == "fraction":
        return metrics.binarise_fraction(m, p.evaluate.ciou_threshold)
    return metrics.binarise_relative_area(m, p.evaluate.relative_area_keep)


def score(
    pred: dict[str, np.ndarray],
    boxes: np.ndarray,
    box_class: np.ndarray,
    audio_label: np.ndarray,
    p: LocalisationParams,
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Flat metrics (model, ``baseline/...``, ``relative_area/...``, ``multi_source/...``) and per-image cIoUs."""
    e, side = p.evaluate, pred["model"].shape[-1]
    g = [metrics.consensus_map(b, side, e.consensus_annotators) for b in boxes]
    cious, out = {}, {}
    for method in METHODS:
        for conv in CONVENTIONS:
            c = np.array([metrics.ciou(_binarise(m, conv, p), gi) for m, gi in zip(pred[method], g)])
            cious[f"{method}/{conv}"] = c
            head = "" if method == "model" else (f"baseline/{method}/" if method in BASELINES else f"{method}/")
            prefix = head + ("" if conv == "fraction" else f"{conv}/")
            out.update({prefix + k: v for k, v in metrics.summary(c, e.auc_points).items()})
    multi = np.flatnonzero(audio_label.sum(1) >= 2)
    per_class = [
        metrics.multi_source_ciou(
            {int(k): pred["class_maps"][i, k] for k in np.flatnonzero(audio_label[i])},
            boxes[i],
            box_class[i],
            e.multi_source_threshold,
            e.consensus_annotators,
        )
        for i in multi
    ]
    agnostic = [
        metrics.ciou(metrics.binarise_fraction(pred["model"][i], e.multi_source_threshold), g[i]) for i in multi
    ]
    out.update(
        {
            "multi_source/class_ciou": float(np.mean(per_class)) if len(multi) else float("nan"),
            "multi_source/class_agnostic_ciou": float(np.mean(agnostic)) if len(multi) else float("nan"),
            "n_images": int(len(g)),
            "n_multi_source_images": int(len(multi)),
        }
    )
    return out, cious


def evaluate_test_split(
    hdf5_dir: Path,
    checkpoint: Path,
    metrics_json: Path,
    maps_npz: Path,
    overlays_png: Path,
    success_png: Path,
    p: LocalisationParams,
) -> dict[str, float]:
    model = load_model(checkpoint)
    split = open_split(hdf5_dir, "test", p.data, len(p.scenes.categories))
    ds = PairDataset(split)
    boxes, box_class = split.column("boxes"), split.column("box_class")
    pred = predict_maps(model, ds, p)
    result, cious = score(pred, boxes, box_class, ds.audio_label.numpy().astype(int), p)
    if not all(np.isfinite(v) for k, v in result.items() if not k.startswith("multi_source")):
        raise ValueError(f"{checkpoint}: non-finite evaluation metrics {result}")
    # the multi-source scores of a split without multi-source scenes are undefined: left out of the file
    defined = {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in result.items()}
    write_metrics(metrics_json, defined, first=HEADLINES)
    with atomic_path(maps_npz) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(
            f,
            ids=np.asarray(split.ids),
            maps=pred["model"].astype(np.float32),
            class_maps=pred["class_maps"].astype(np.float32),
            audio_prob=pred["a_prob"],
        )
    n = min(p.evaluate.overlays, len(ds))
    overlay_grid(
        ds.video[:n].numpy(),
        pred["model"][:n],
        boxes[:n],
        overlays_png,
        categories=p.scenes.categories,
        audio_label=ds.audio_label[:n].numpy(),
    )
    success_plot(cious, p.evaluate.auc_points, success_png)
    split.close()
    return result
