"""The pipeline's stages, declared once.

This file is the single source of truth of the DAG: each stage's command,
dependencies, parameter keys and outputs. ``dvc.yaml`` is generated from it
(``soundflow dvc-yaml``; a test fails when they drift), the Prefect flows are
built from it, and ``python -m soundflow stage NAME`` (the command DVC runs)
executes a stage by calling its plain task function with the paths declared
here. Paths are relative to the repository root; a dependency may name a
parameter as ``${key}`` (DVC's templating), resolved from ``params.yaml``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from soundflow.code_deps import code_closure, source_digest
from soundflow.config import Params

# Paths shared between stages: an output of one is a dependency of the next.
DATASETS = "data/datasets"  # not data/raw: that folder is data.dvc's, and a stage must not write into it
DATASETS_INDEX = f"{DATASETS}/datasets.json"
URBAN_SYNTH = "data/generated/urban_synth"
FEATURE_STORES = "data/features/store"  # <dataset>/<representation>/ per feature set
FEATURES_SUMMARY = "reports/features/summary.json"
FEATURES_EXAMPLES = "reports/features/examples.png"
AED_CHUNKS = "data/features/aed/chunks"  # a feature store of stft_chunks
AED_FEATURES_SUMMARY = "reports/aed/features.json"
AED_SKIPPED = "reports/aed/skipped.csv"
AED_MODEL = "outputs/aed/model.pt"
AED_TRAIN_SUMMARY = "reports/aed/train.json"
AED_HISTORY = "reports/aed/train_history.csv"
AED_CURVES = "reports/aed/training_curves.png"
AED_METRICS = "reports/aed/metrics.json"
AED_PREDICTIONS = "reports/aed/test_predictions.csv"
AED_CONFUSION = "reports/aed/confusion_matrix.png"

STREET_SCENES = "data/generated/street_scenes"
SEG_WEIGHTS = "reports/seg/class_weights.json"
SEG_MODEL = "outputs/seg/erfnet.pt"
SEG_TRAIN_SUMMARY = "reports/seg/train.json"
SEG_HISTORY = "reports/seg/train_history.csv"
SEG_CURVES = "reports/seg/training_curves.png"
SEG_METRICS = "reports/seg/metrics.json"
SEG_IOU_TABLE = "reports/seg/iou_per_class.csv"
SEG_IOU_PLOT = "reports/seg/iou_per_class.png"
SEG_PREDICTIONS = "outputs/seg/predictions"
SEG_FRACTIONS = "outputs/seg/predictions/fractions.csv"
SOUND_LIBRARY = "data/generated/sound_library"
SOUNDSCAPES = "data/soundscapes"

STATE_DIR = ".soundflow"  # ignored: resumable training state, Prefect's home


@dataclass(frozen=True)
class Stage:
    """One stage: ``run(params, root)`` does the work; the rest says what it reads and writes.

    Its code dependencies are not declared: :attr:`code_deps` derives them from the imports of ``run``
    (:mod:`soundflow.code_deps`), so no edit of the task code can leave a stage "up to date". This file
    itself is not among them, although every ``run`` lives here: it is the table of all stages, and as a
    dependency any edit of one row would rerun every stage. A row's declarations reach DVC through
    ``dvc.yaml`` anyway, the helpers a ``run`` calls here are followed into their imports, and the source of
    ``run`` and of those helpers is hashed into the stage's command (``--code``), so an edit of them reruns
    exactly the stages that execute it. Should task code ever import this module, it joins that stage's
    closure like any other file.
    """

    name: str
    desc: str
    run: Callable[[Params, Path], object]
    deps: tuple[str, ...]
    params: tuple[str, ...]
    outs: tuple[str, ...]
    metrics: tuple[str, ...] = ()  # JSON, small: kept in git, logged to MLflow as metrics
    plots: tuple[str, ...] = ()  # PNG/CSV, small: kept in git, logged to MLflow as artifacts
    artifacts: tuple[str, ...] = ()  # outputs also logged to MLflow as artifacts (checkpoints, skip lists)
    history: str | None = None  # per-epoch CSV logged to MLflow as metric series
    flow: str = "default"  # the Prefect sub-flow the stage belongs to
    # outs DVC must not delete before rerunning the stage, for stages that add to what an earlier run left
    persist: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not set(self.persist) <= set(self.outs):
            raise ValueError(f"{self.name}: persist {sorted(set(self.persist) - set(self.outs))} not among its outs")

    @property
    def cmd(self) -> str:
        # --code: a digest of ``run`` and the helpers here it calls, so editing them reruns the stage (see above)
        return f"python -m soundflow stage {self.name} --code {self.run_digest}"

    @property
    def run_digest(self) -> str:
        return source_digest(self.run)

    @property
    def code_deps(self) -> tuple[str, ...]:
        """The repository's .py files that ``run`` imports, transitively: a change to any reruns the stage."""
        return code_closure(self.run, table_module=__name__)

    @property
    def all_deps(self) -> tuple[str, ...]:
        return self.deps + self.code_deps

    @property
    def all_outs(self) -> tuple[str, ...]:
        return self.outs + self.metrics + self.plots


def _datasets(p: Params, root: Path) -> object:
    import csv

    from soundflow.io import write_json
    from tasks.datasets import registry

    d = p.data.download
    dest = root / DATASETS
    dest.mkdir(parents=True, exist_ok=True)
    listed = []
    # fetch() skips files whose .done markers an earlier run left (the out is persistent), so adding one
    # dataset downloads only that one; a dataset taken off the list stays on disk but leaves the index
    for name in d.datasets:
        folder = registry.fetch(name, dest, base_url=d.base_url)
        table = registry.prepare(name, dest)
        with table.open(newline="", encoding="utf-8") as f:
            rows = sum(1 for _ in csv.reader(f)) - 1  # csv.reader, not lines: quoted fields may hold newlines
        listed.append(
            {
                "name": name,
                "folder": folder.relative_to(root).as_posix(),
                "metadata": table.relative_to(root).as_posix(),
                "rows": rows,
                "licence": registry.get(name).licence,
            }
        )
        print(f"datasets: {name}: {rows} row(s) in {table.relative_to(root).as_posix()}")
    return write_json(root / DATASETS_INDEX, {"datasets": listed})


def _feature_table(p: Params, root: Path, dataset: str):
    import json

    from tasks.features import sets

    if dataset == "urban_synth":
        return sets.labelled_audio_table(root / URBAN_SYNTH, "urbansound8k", root)
    if dataset == "street_scenes":
        return sets.image_folder_table(root / STREET_SCENES, root)
    index = json.loads((root / DATASETS_INDEX).read_text())["datasets"]
    entry = next((d for d in index if d["name"] == dataset), None)
    if entry is None:
        raise ValueError(f"features: dataset {dataset!r} is not in {DATASETS_INDEX}; run the datasets stage first")
    return sets.metadata_table(root / entry["metadata"], root)


def _features(p: Params, root: Path) -> object:
    from soundflow.devices import pick_device
    from soundflow.io import remove_path
    from soundflow.plots import feature_examples
    from tasks.features import sets
    from tasks.features.representations import make_representation
    from tasks.features.store import open_store

    f = p.features
    out_root = root / FEATURE_STORES
    wanted = {f"{s.dataset}/{s.representation}" for s in f.sets}
    # the out is persistent (a rerun resumes finished shards), so stores of sets taken off the list go here
    for folder in sorted(out_root.glob("*/*")):
        if folder.is_dir() and folder.relative_to(out_root).as_posix() not in wanted:
            remove_path(folder)
    device = str(pick_device(f.device))
    summaries, examples = {}, {}
    for s in f.sets:
        fs = sets.FeatureSet(s.dataset, s.representation)
        table = _feature_table(p, root, s.dataset)
        sets.check_modality(fs, table)
        rep = make_representation(s.representation, clip_seconds=f.clip_seconds, aed_features=p.aed.features)
        summary = sets.extract_set(
            table,
            out_root / fs.folder,
            rep,
            root=root,
            shard_size=f.shard_size,
            workers=f.workers,
            device=device,
            max_bad_fraction=f.max_bad_fraction,
            runner=f.runner,
        )
        summaries[fs.folder] = summary
        print(
            f"features: {fs.folder}: {summary['n_clips']} input(s), {summary['n_items']} item(s), "
            f"{summary['n_skipped']} skipped, {summary['seconds']:.1f} s ({f.runner})"
        )
        with open_store(out_root / fs.folder, rep) as store:
            if len(store):
                items, label, fold = store[0]
                label = Path(str(label)).name if "/" in str(label) else label
                examples[fs.folder] = (items, f"{Path(str(store.table.path[0])).name}\nlabel {label}, fold {fold}")
    sets.write_summary(root / FEATURES_SUMMARY, summaries)
    return feature_examples(examples, root / FEATURES_EXAMPLES, title="first input of each feature store")


def _urban_synth(p: Params, root: Path) -> object:
    from tasks.procedural.urban_sounds import generate_dataset

    s = p.data.urban_synth
    return generate_dataset(
        root / URBAN_SYNTH,
        clips_per_class=s.clips_per_class,
        n_folds=s.n_folds,
        sample_rate=s.sample_rate,
        duration_range=s.duration,
        snr_db_range=s.snr_db,
        seed=s.seed,
    )


def _aed_features(p: Params, root: Path) -> object:
    from tasks.aed.features import extract_chunks
    from tasks.datasets.labelled_audio import read_labelled_audio
    from tasks.features.sets import relative_paths

    table = read_labelled_audio(root / p.aed.data.root, p.aed.data.format)
    table["path"] = relative_paths(table["path"], root)  # stores and predictions do not depend on the checkout's place
    report = extract_chunks(
        table,
        root / AED_CHUNKS,
        root / AED_FEATURES_SUMMARY,
        root / AED_SKIPPED,
        p.aed.features,
        p.aed.data.max_bad_fraction,
        base_dir=root,
    )
    print(
        f"aed_features: {report.n_chunks} chunks from {report.n_files} files; "
        f"{report.n_skipped} unreadable file(s) skipped (listed in {AED_SKIPPED})"
    )
    return report


def _aed_train(p: Params, root: Path) -> object:
    import pandas as pd

    from soundflow.plots import training_curves
    from tasks.aed.train import train

    result = train(
        root / AED_CHUNKS,
        root / AED_MODEL,
        root / AED_HISTORY,
        root / AED_TRAIN_SUMMARY,
        p.aed.data,
        p.aed.model,
        p.aed.train,
        state_dir=root / STATE_DIR / "aed_train",
    )
    training_curves(pd.read_csv(result.history_csv), root / AED_CURVES, title="AED CNN")
    return result


def _aed_evaluate(p: Params, root: Path) -> object:
    from tasks.aed.evaluate import evaluate

    result = evaluate(
        root / AED_CHUNKS,
        root / AED_MODEL,
        root / AED_METRICS,
        root / AED_PREDICTIONS,
        root / AED_CONFUSION,
        p.aed.data,
        p.aed.evaluate,
        device=p.aed.train.device,
    )
    print(f"aed_evaluate: accuracy {result.accuracy:.3f}, MAP {result.map:.3f} on folds {p.aed.data.test_folds}")
    return result


def _street_scenes(p: Params, root: Path) -> object:
    from tasks.procedural.street_scenes import generate_street_scenes

    s = p.data.street_scenes
    return generate_street_scenes(
        root / STREET_SCENES,
        n_train=s.n_train,
        n_val=s.n_val,
        n_test=s.n_test,
        height=s.height,
        width=s.width,
        seed=s.seed,
    )


def _seg_dataset(p: Params, root: Path, split: str, augment: bool = False):
    from tasks.segmentation.cityscapes import CityscapesSegmentation

    return CityscapesSegmentation(
        root / p.seg.data.root, split, size=p.seg.data.image_size, augment=augment, seed=p.seg.train.seed
    )


def _seg_class_weights(p: Params, root: Path) -> object:
    from soundflow.io import write_json
    from tasks.segmentation.cityscapes import TRAIN_CLASSES, class_pixel_frequencies, enet_class_weights

    freq = class_pixel_frequencies(_seg_dataset(p, root, "train"))
    weights = enet_class_weights(freq, p.seg.train.class_weight_c)
    print("class weights: " + ", ".join(f"{c} {w:.2f}" for c, w in zip(TRAIN_CLASSES, weights)))
    return write_json(
        root / SEG_WEIGHTS,
        {
            "frequency": dict(zip(TRAIN_CLASSES, map(float, freq))),
            "weight": dict(zip(TRAIN_CLASSES, map(float, weights))),
        },
    )


def _seg_train(p: Params, root: Path) -> object:
    import hashlib
    import json

    import numpy as np
    import pandas as pd

    from soundflow.plots import training_curves
    from tasks.segmentation.train import train

    weights_doc = json.loads((root / SEG_WEIGHTS).read_text())
    weights = np.asarray(list(weights_doc["weight"].values()), dtype=np.float64)
    t = p.seg.train
    # resuming is only valid for the same data, weights and parameters
    fingerprint = hashlib.sha256(
        json.dumps([weights_doc, p.seg.model_dump(mode="json"), p.data.street_scenes.model_dump()]).encode()
    ).hexdigest()
    ckpt = train(
        _seg_dataset(p, root, "train", augment=True),
        _seg_dataset(p, root, "val"),
        weights,
        root / SEG_MODEL,
        root / SEG_HISTORY,
        root / SEG_TRAIN_SUMMARY,
        epochs=t.epochs,
        batch_size=t.batch_size,
        lr=t.lr,
        weight_decay=t.weight_decay,
        poly_power=t.poly_power,
        num_workers=t.num_workers,
        device=t.device,
        seed=t.seed,
        state_dir=root / STATE_DIR / "seg_train",
        fingerprint=fingerprint,
    )
    training_curves(
        pd.read_csv(root / SEG_HISTORY),
        root / SEG_CURVES,
        title="ERFNet",
        panels={"cross-entropy": ["train_loss"], "mIoU / pixel accuracy (val)": ["val_miou", "val_pixel_accuracy"]},
    )
    return ckpt


def _seg_evaluate(p: Params, root: Path) -> object:
    from tasks.segmentation.evaluate import evaluate

    out = evaluate(
        root / SEG_MODEL,
        _seg_dataset(p, root, "val"),
        root / SEG_METRICS,
        root / SEG_IOU_TABLE,
        root / SEG_IOU_PLOT,
        batch_size=p.seg.predict.batch_size,
        device=p.seg.train.device,
    )
    print(f"seg_evaluate: mIoU {out['miou']:.3f}, pixel accuracy {out['pixel_accuracy']:.3f} on the val split")
    return out


def _seg_predict(p: Params, root: Path) -> object:
    from tasks.segmentation.predict import predict_folder

    q = p.seg.predict
    table = predict_folder(
        root / SEG_MODEL,
        root / q.images,
        root / SEG_PREDICTIONS,
        image_type=q.image_type,
        size=p.seg.data.image_size,
        batch_size=q.batch_size,
        device=p.seg.train.device,
    )
    print(f"seg_predict: {len(table)} image(s) segmented into {SEG_PREDICTIONS}")
    return table


def _sound_library(p: Params, root: Path) -> object:
    from tasks.procedural.sound_library import build_sound_library

    s = p.data.sound_library
    return build_sound_library(
        root / SOUND_LIBRARY,
        clips_per_label=s.clips_per_label,
        sample_rate=s.sample_rate,
        event_duration=s.event_duration,
        background_duration=s.background_duration,
        seed=s.seed,
    )


def _soundscapes(p: Params, root: Path) -> object:
    from tasks.soundscapes.synthesis import synthesize_all

    q = p.soundscapes
    summary = synthesize_all(root / SEG_FRACTIONS, root / q.mapping, root / q.library, root / SOUNDSCAPES, q.synthesis)
    made = int(summary["n_soundscapes"].sum())
    print(f"soundscapes: {made} soundscape(s) for {len(summary)} image(s) in {SOUNDSCAPES}")
    for row in summary.itertuples():
        if row.n_soundscapes == 0:
            print(f"  {Path(str(row.image)).name}: {row.note}")
    return summary


STAGES: tuple[Stage, ...] = (
    Stage(
        name="datasets",
        desc="Fetch, verify, extract and index the registered datasets listed in data.download",
        run=_datasets,
        deps=(),
        params=("data.download",),
        outs=(DATASETS,),
        persist=(DATASETS,),
        flow="data",
    ),
    Stage(
        name="urban_synth",
        desc="Generate the procedural urban-sound dataset (UrbanSound8K layout)",
        run=_urban_synth,
        deps=(),
        params=("data.urban_synth",),
        outs=(URBAN_SYNTH,),
        flow="data",
    ),
    Stage(
        name="features",
        desc="HDF5 feature stores (log-mel, third-octave, spectrogram chunks, frames) of the listed datasets",
        run=_features,
        deps=(URBAN_SYNTH, STREET_SCENES, DATASETS),
        params=("features", "aed.features"),
        outs=(FEATURE_STORES,),
        persist=(FEATURE_STORES,),
        metrics=(FEATURES_SUMMARY,),
        plots=(FEATURES_EXAMPLES,),
        flow="data",
    ),
    Stage(
        name="aed_features",
        desc="Spectrogram chunks of the labelled audio into HDF5",
        run=_aed_features,
        deps=("${aed.data.root}",),
        params=("aed.data.root", "aed.data.format", "aed.data.max_bad_fraction", "aed.features"),
        outs=(AED_CHUNKS,),
        persist=(AED_CHUNKS,),  # a rerun keeps finished shards whose inputs and parameters are unchanged
        metrics=(AED_FEATURES_SUMMARY,),
        plots=(AED_SKIPPED,),
        flow="acoustic_event_classification",
    ),
    Stage(
        name="aed_train",
        desc="Train the AED CNN on spectrogram chunks (validation split by file)",
        run=_aed_train,
        deps=(AED_CHUNKS,),
        params=("aed.data.test_folds", "aed.data.val_fraction", "aed.model", "aed.train"),
        outs=(AED_MODEL,),
        metrics=(AED_TRAIN_SUMMARY,),
        plots=(AED_HISTORY, AED_CURVES),
        artifacts=(AED_MODEL,),
        history=AED_HISTORY,
        flow="acoustic_event_classification",
    ),
    Stage(
        name="aed_evaluate",
        desc="Per-file accuracy, MAP and confusion matrix on the held-out folds",
        run=_aed_evaluate,
        deps=(AED_CHUNKS, AED_MODEL),
        params=("aed.data.test_folds", "aed.evaluate"),
        outs=(),
        metrics=(AED_METRICS,),
        plots=(AED_PREDICTIONS, AED_CONFUSION),
        flow="acoustic_event_classification",
    ),
    Stage(
        name="street_scenes",
        desc="Generate procedural street scenes with label maps (Cityscapes layout)",
        run=_street_scenes,
        deps=(),
        params=("data.street_scenes",),
        outs=(STREET_SCENES,),
        flow="data",
    ),
    Stage(
        name="seg_class_weights",
        desc="Class pixel frequencies of the training labels and weights 1/ln(c + p)",
        run=_seg_class_weights,
        deps=("${seg.data.root}",),
        params=("seg.data.root", "seg.train.class_weight_c"),
        outs=(),
        metrics=(SEG_WEIGHTS,),
        flow="image_to_soundscape",
    ),
    Stage(
        name="seg_train",
        desc="Train ERFNet (AdamW, poly LR, weighted cross-entropy, best val mIoU kept by copy)",
        run=_seg_train,
        deps=("${seg.data.root}", SEG_WEIGHTS),
        params=("seg.data", "seg.train"),
        outs=(SEG_MODEL,),
        metrics=(SEG_TRAIN_SUMMARY,),
        plots=(SEG_HISTORY, SEG_CURVES),
        artifacts=(SEG_MODEL,),
        history=SEG_HISTORY,
        flow="image_to_soundscape",
    ),
    Stage(
        name="seg_evaluate",
        desc="Per-class IoU, mIoU and pixel accuracy on the val split (one confusion matrix)",
        run=_seg_evaluate,
        deps=("${seg.data.root}", SEG_MODEL),
        params=("seg.data", "seg.predict.batch_size"),
        outs=(),
        metrics=(SEG_METRICS,),
        plots=(SEG_IOU_TABLE, SEG_IOU_PLOT),
        flow="image_to_soundscape",
    ),
    Stage(
        name="seg_predict",
        desc="Label maps, colour overlays and class pixel fractions for every test image",
        run=_seg_predict,
        deps=("${seg.predict.images}", SEG_MODEL),
        params=("seg.data.image_size", "seg.predict"),
        outs=(SEG_PREDICTIONS,),
        flow="image_to_soundscape",
    ),
    Stage(
        name="sound_library",
        desc="Build a Scaper sound library (foreground events, background ambiences) from procedural sounds",
        run=_sound_library,
        deps=(),
        params=("data.sound_library",),
        outs=(SOUND_LIBRARY,),
        flow="data",
    ),
    Stage(
        name="soundscapes",
        desc="Scaper soundscapes per segmented image: background = dominant mapped class, foreground = the others",
        run=_soundscapes,
        deps=(SEG_FRACTIONS, "${soundscapes.mapping}", "${soundscapes.library}"),
        params=("soundscapes",),
        outs=(SOUNDSCAPES,),
        flow="image_to_soundscape",
    ),
)

BY_NAME: dict[str, Stage] = {s.name: s for s in STAGES}


def get_stage(name: str) -> Stage:
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown stage {name!r}; stages: {', '.join(BY_NAME)}") from None
