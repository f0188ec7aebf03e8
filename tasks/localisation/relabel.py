"""Pseudo-labelled pair records: unlabelled pairs labelled by the pipeline's AED classifier (docs/methods.md).

Qian et al. train on unlabelled videos whose audio and visual labels come from classifiers mapped to K
categories. Here the AED CNN of workflow 2 classifies each pair's clip; its classes are mapped to the K
categories by the table ``localisation.pseudo_label_mapping`` (:mod:`tasks.localisation.pseudo_labels`).
Each relabelled pair record points at the original image, clip and annotation and carries the pseudo
audio labels; its visual labels are the record's (none for an unlabelled pair) joined with the audio ones,
since a sounding object is in view. Where the input records do carry labels (the procedural scenes do),
the pseudo-labels' precision, recall and exact-set accuracy against them are reported.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from soundflow.io import CC0_README_SECTION, generated_folder
from soundflow.metric_files import write_metrics
from tasks.localisation.params import LocPseudoLabelParams
from tasks.localisation.pseudo_labels import classify_clips, pseudo_labels, read_mapping

_README_TITLE = "# Pseudo-labelled audiovisual pair records (soundflow loc_pseudo_labels)"
FILE_KEYS = ("image", "audio", "annotation")


def _relink(rec: dict, src: Path, dst: Path) -> dict:
    """The record with its file names made relative to ``dst`` (they were relative to ``src``)."""
    out = dict(rec)
    for key in FILE_KEYS:
        if rec.get(key):
            out[key] = os.path.relpath(src / rec[key], dst)
    return out


def _agreement(pred: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    tp = float((pred & truth).sum())
    return {
        "precision": tp / max(float(pred.sum()), 1.0),
        "recall": tp / max(float(truth.sum()), 1.0),
        "exact_set_accuracy": float((pred == truth).all(1).mean()) if len(pred) else 0.0,
        "pairs_without_label": int((pred.sum(1) == 0).sum()),
    }


def _relabel_split(
    src: Path,
    tmp: Path,
    dst: Path,
    checkpoint: Path,
    mapping: Path,
    categories: list[str],
    threshold: float,
    device: str,
    apply: bool,
) -> dict[str, float]:
    """One split's records relabelled into ``tmp`` (file names relative to ``dst``, their final folder).

    With ``apply`` false the records keep their own labels (only the agreement is measured), so they do not
    change when the classifier does, and nothing downstream reruns for a classifier it does not use."""
    rows = pd.read_csv(src / "pairs.csv", dtype={"label": str}, keep_default_na=False)
    records = [json.loads((src.parent / p).read_text()) for p in rows["path"]]
    folders = [(src.parent / p).parent for p in rows["path"]]
    probs, classes = classify_clips(checkpoint, [f / r["audio"] for f, r in zip(folders, records)], device)
    labels = pseudo_labels(probs, classes, categories, read_mapping(mapping, classes, categories), threshold)
    truth = np.zeros_like(labels, dtype=bool)
    out_rows = []
    for i, (rel, rec, folder) in enumerate(zip(rows["path"], records, folders)):
        own = [int(k) for k in rec.get("audio_labels", [])]
        truth[i, own] = True
        audio = [int(k) for k in np.flatnonzero(labels[i])] if apply else own
        new = {**_relink(rec, folder, dst), "audio_labels": audio}
        new["visual_labels"] = sorted({*map(int, rec.get("visual_labels", [])), *audio})
        (tmp / Path(rel).name).write_text(json.dumps(new))
        out_rows.append((f"{dst.name}/{Path(rel).name}", ";".join(map(str, audio)), dst.name))
    pd.DataFrame(out_rows, columns=["path", "label", "fold"]).to_csv(tmp / "pairs.csv", index=False)
    return _agreement(labels.astype(bool), truth)


def pseudo_label_pairs(
    pairs_root: Path,
    out_dir: Path,
    report_json: Path,
    classifier: tuple[Path, Path],
    categories: list[str],
    p: LocPseudoLabelParams,
    *,
    apply: bool = True,
    splits: tuple[str, ...] = ("train", "val"),
) -> dict:
    """Relabel the records of ``<pairs_root>/<split>/pairs.csv`` for each of ``splits`` into ``out_dir``
    (replaced atomically), with the classifier's mapped predictions as labels (``apply``; otherwise the records'
    own labels are kept), and report the predictions' agreement with the records' labels either way.
    ``classifier``: the AED checkpoint and the table mapping its classes to the K categories."""
    checkpoint, mapping = classifier
    report: dict = {"classifier": Path(checkpoint).name, "mapping": Path(mapping).name, "threshold": p.threshold}
    report["labels_applied"] = apply
    report["splits"] = {}
    with generated_folder(Path(out_dir), _README_TITLE, "pseudo_label_pairs") as tmp:
        for split in splits:
            src = Path(pairs_root) / split
            if not (src / "pairs.csv").is_file():
                raise FileNotFoundError(f"{src / 'pairs.csv'}: no pair table for split {split!r}")
            (tmp / split).mkdir()
            dst = Path(out_dir).resolve() / split
            report["splits"][split] = _relabel_split(
                src.resolve(), tmp / split, dst, checkpoint, mapping, list(categories), p.threshold, p.device, apply
            )
        how = "labelled by the classifier" if apply else "with their own labels, measured against the classifier"
        what = f"The pair records of `{Path(pairs_root).name}` ({', '.join(splits)}) {how}"
        lines = [_README_TITLE, "", f"{what} `{Path(checkpoint).name}` via `{Path(mapping).name}`.", ""]
        (tmp / "README.md").write_text("\n".join([*lines, *CC0_README_SECTION]) + "\n")
    # the classifier's and the mapping's names are in the folder's README (and dvc.lock): not numbers
    numbers = {"threshold": p.threshold, "labels_applied": int(apply), "splits": report["splits"]}
    write_metrics(report_json, numbers)
    return report
