"""Evaluation of the spectral transcoders through a frozen teacher (Tailleur et al., DCASE 2023).

For each input (true Mel, PINV, CNN-mels, CNN-logits):

- ``teacher_top1_agreement`` with the teacher on the true Mel: over the test chunks of the multilabel source
  and of the training source (the paper's; the same chunks by default) and over every chunk of the
  single-label source, which no model of the workflow is trained on;
- multilabel (SONYC-UST style, 8 coarse classes) on the test chunks of the multilabel source: macro-AUPRC
  (mean average precision), the same areas the paper's code (``macro_auprc_trapezoid``, its "mAUC") and the
  DCASE 2019 task 5 baseline (``macro_auprc_dcase``) compute, micro-AUPRC, macro ROC-AUC and per class, with
  the deep head (trained on the train split, best validation epoch) and the grouping head (both give
  probabilities; :mod:`tasks.transcoder.metrics` defines each area);
- single-label (UrbanSound8K style) on the single-label source: per-clip teacher probabilities (mean of its
  chunks), accuracy over a cross-validation on its folds (fold f tested, fold f+1 validates the deep
  head, the rest train it) with the deep head, and with the grouping head.

Outputs: ``metrics.json`` (``<dataset>.<head>.<transcoder>.<metric>``, the top-1 agreement under
``top1.<dataset>.<transcoder>``), ``results.csv`` (one row per value with its teacher, transcoder, dataset and
head), ``per_class.csv`` and the paper-like table (:mod:`tasks.transcoder.table`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import yaml

from soundflow.devices import pick_device
from soundflow.io import write_text
from soundflow.metric_files import write_metrics
from soundflow.training import FitFiles
from tasks.transcoder.conditions import CONDITIONS, Transcoders, condition_mels, teacher_probabilities
from tasks.transcoder.heads import deep_head_scores, grouping_scores, load_groups
from tasks.transcoder.metrics import accuracy, multilabel_scores, teacher_top1_agreement
from tasks.transcoder.pairs import MEL_FOR_TEACHER, Pairs, load_pairs
from tasks.transcoder.params import TranscoderParams
from tasks.transcoder.sources import chunk_labels, multi_hot
from tasks.transcoder.table import write_table
from tasks.transcoder.teacher import load_teacher

# first in the metrics file (flattened keys, '*' one segment): what the workflow's runs are judged by
HEADLINES = ("*/deep/*/macro_auprc", "top1/*/*/teacher_top1_agreement")


@dataclass(frozen=True)
class EvalPaths:
    features: Path  # data/features/transcoder
    teacher: Path
    cnn_mels: Path
    cnn_logits: Path
    grouping: Path
    state_dir: Path  # the heads' training state and checkpoints
    metrics_json: Path
    results_csv: Path
    per_class_csv: Path
    table_csv: Path
    table_png: Path

    @classmethod
    def under(cls, root: Path, *paths: str | Path) -> EvalPaths:
        """Each path (in field order) relative to the project ``root``, as a stage declares them."""
        return cls(*(Path(root) / p for p in paths))


@dataclass
class Context:
    teacher: torch.nn.Module
    classes: list[str]
    vocabulary: str
    transcoders: Transcoders
    p: TranscoderParams
    paths: EvalPaths
    device: torch.device
    mel: str


def _head_files(ctx: Context, tag: str) -> FitFiles:
    d = ctx.paths.state_dir / tag
    return FitFiles(d / "state", d / "head.pt", d / "history.csv", d / "summary.json")


def top1(probs: dict[str, np.ndarray], clips: np.ndarray) -> dict[str, dict[str, float]]:
    return {c: teacher_top1_agreement(probs["mel"], probs[c], clips) for c in CONDITIONS}


def train_source_top1(ctx: Context) -> dict[str, dict[str, float]]:
    pairs = load_pairs(ctx.paths.features / ctx.p.data.train_source, ctx.mel, splits=("test",))
    probs = teacher_probabilities(ctx.teacher, condition_mels(pairs, ctx.transcoders, ctx.device), ctx.device)
    return top1(probs, pairs.clip)


def head_inputs(ctx: Context, pairs: Pairs) -> dict[str, np.ndarray]:
    """The teacher's outputs the deep heads learn from, on every chunk of ``pairs``: those on the true Mel alone
    when every head trains on them (``heads.train_input: mel``), else those on each input; the transcoded
    outputs of the training chunks are then never computed."""
    if ctx.p.heads.train_input == "mel":
        return teacher_probabilities(ctx.teacher, {"mel": torch.from_numpy(pairs.mel)}, ctx.device)
    return teacher_probabilities(ctx.teacher, condition_mels(pairs, ctx.transcoders, ctx.device), ctx.device)


def _fine_to_coarse(label_sets: list[set[str]], groups: dict[str, list[str]]) -> list[set[str]]:
    return [{t for t, members in groups.items() if labels & set(members)} for labels in label_sets]


def multilabel(ctx: Context) -> tuple[dict[str, Any], pd.DataFrame, dict[str, dict[str, float]]]:
    source = ctx.p.data.multilabel_source
    grouping = yaml.safe_load(ctx.paths.grouping.read_text())
    targets = list(grouping["vocabularies"]["sonyc_coarse"])
    pairs = load_pairs(ctx.paths.features / source, ctx.mel)
    t = pairs.table
    sets = [
        chunk_labels(t.at[c, "labels"], t.at[c, "events"], int(s), ctx.p.data.min_event_overlap)
        for c, s in zip(pairs.clip, pairs.second)
    ]
    if source == "soundscapes":  # fine (UrbanSound8K-class) event labels -> coarse truth
        sets = _fine_to_coarse(sets, load_groups(ctx.paths.grouping, "urbansound8k", "sonyc_coarse", targets))
    y = multi_hot(sets, targets)
    masks = {
        s: pairs.split_mask(*names)
        for s, names in (("train", ("train",)), ("val", ("val", "validate")), ("test", ("test",)))
    }
    fit_probs = head_inputs(ctx, pairs)
    test = teacher_probabilities(
        ctx.teacher, condition_mels(pairs.subset(masks["test"]), ctx.transcoders, ctx.device), ctx.device
    )
    groups = load_groups(ctx.paths.grouping, ctx.vocabulary, "sonyc_coarse", targets)
    out: dict[str, Any] = {"deep": {}, "grouping": {}}
    per_class = []
    for c in CONDITIONS:
        fit_on = fit_probs[c if ctx.p.heads.train_input == "own" else "mel"]
        data = {k: (fit_on[m], y[m]) for k, m in masks.items()}
        scores = {
            "deep": deep_head_scores(
                data["train"],
                data["val"],
                test[c],
                ctx.p.heads,
                _head_files(ctx, f"{source}_{c}"),
                ctx.p.seed,
                ctx.device,
            ),
            "grouping": grouping_scores(test[c], ctx.classes, groups),
        }
        for head, s in scores.items():
            res = multilabel_scores(y[masks["test"]], s, targets, probabilities=True)
            per_class += [{"transcoder": c, "head": head, "class": k, **v} for k, v in res.pop("per_class").items()]
            out[head][c] = res
    return out, pd.DataFrame(per_class).assign(dataset=source), top1(test, pairs.clip[masks["test"]])


def singlelabel(ctx: Context) -> tuple[dict[str, Any], dict[str, dict[str, float]]]:
    source = ctx.p.data.singlelabel_source
    pairs = load_pairs(ctx.paths.features / source, ctx.mel, clip_seconds=ctx.p.data.singlelabel_clip_seconds)
    clips = np.unique(pairs.clip)
    targets = sorted(set(pairs.table["labels"].astype(str)))
    labels = np.array([targets.index(str(pairs.table.at[c, "labels"])) for c in clips])
    folds = pairs.table["split"].astype(str).to_numpy()[clips]
    fold_names = sorted(set(folds))
    probs = teacher_probabilities(ctx.teacher, condition_mels(pairs, ctx.transcoders, ctx.device), ctx.device)
    per_clip = {c: np.stack([probs[c][pairs.clip == k].mean(0) for k in clips]) for c in CONDITIONS}
    groups = load_groups(ctx.paths.grouping, ctx.vocabulary, "urbansound8k", targets)
    onehot = np.eye(len(targets), dtype=np.float32)[labels]
    out: dict[str, Any] = {"deep": {}, "grouping": {}}
    for c in CONDITIONS:
        fit_on = per_clip[c if ctx.p.heads.train_input == "own" else "mel"]
        correct = 0.0
        for i, f in enumerate(fold_names):
            test, val = folds == f, folds == fold_names[(i + 1) % len(fold_names)]
            train = ~test & ~val
            s = deep_head_scores(
                (fit_on[train], onehot[train]),
                (fit_on[val], onehot[val]),
                per_clip[c][test],
                ctx.p.heads,
                _head_files(ctx, f"{source}_{c}_fold{f}"),
                ctx.p.seed,
                ctx.device,
            )
            correct += accuracy(labels[test], s) * test.sum()
        out["deep"][c] = {"accuracy": correct / len(clips), "folds": len(fold_names)}
        out["grouping"][c] = {"accuracy": accuracy(labels, grouping_scores(per_clip[c], ctx.classes, groups))}
    return out, top1(probs, pairs.clip)


def long_rows(metrics: dict[str, Any], teacher: str) -> pd.DataFrame:
    """One row per value: teacher, transcoder, dataset, head (``none`` for the top-1 agreement), metric, value."""
    tables = {f"{d}|none": by_c for d, by_c in metrics["top1"].items()}
    tables |= {f"{d}|{h}": by_c for d, heads in metrics.items() if d != "top1" for h, by_c in heads.items()}
    rows = []
    for key, by_c in tables.items():
        dataset, head = key.split("|")
        for c, m in by_c.items():
            rows += [
                dict(teacher=teacher, transcoder=c, dataset=dataset, head=head, metric=k, value=v) for k, v in m.items()
            ]
    return pd.DataFrame(rows)


def evaluate_transcoders(paths: EvalPaths, p: TranscoderParams) -> Path:
    """Every metric of every input; writes the metrics JSON, the long results CSV, per-class CSV and the table."""
    device, mel = pick_device(p.device), MEL_FOR_TEACHER[p.teacher.name]
    teacher, classes, vocabulary = load_teacher(paths.teacher, device)
    ctx = Context(
        teacher,
        classes,
        vocabulary,
        Transcoders.load(mel, paths.cnn_mels, paths.cnn_logits, device),
        p,
        paths,
        device,
        mel,
    )
    ml, per_class, ml_top1 = multilabel(ctx)
    sl, sl_top1 = singlelabel(ctx)
    agreement = {p.data.multilabel_source: ml_top1, p.data.singlelabel_source: sl_top1}
    if p.data.train_source != p.data.multilabel_source:  # the paper's: the training source's test split
        agreement[p.data.train_source] = train_source_top1(ctx)
    metrics = {"top1": agreement, p.data.multilabel_source: ml, p.data.singlelabel_source: sl}
    write_metrics(paths.metrics_json, metrics, first=HEADLINES)
    write_text(paths.results_csv, long_rows(metrics, p.teacher.name).to_csv(index=False))
    write_text(paths.per_class_csv, per_class.to_csv(index=False))
    write_table(
        metrics, p.data.multilabel_source, p.data.singlelabel_source, p.teacher.name, paths.table_csv, paths.table_png
    )
    return paths.metrics_json
