"""The pipeline's stages, declared once.

This file is the single source of truth of the DAG: each stage's command,
dependencies, parameter keys and outputs. ``dvc.yaml`` is generated from it
(``soundflow dvc-yaml``; a test fails when they drift), the Prefect flows are
built from it, and ``python -m soundflow stage NAME`` (the command DVC runs)
executes a stage by calling its plain task function with the paths declared
here. Paths are relative to the repository root; a dependency may name a
parameter as ``${key}`` (DVC's templating), resolved from ``params.yaml``.

Declarations only: each ``run`` picks the stage's parameters and paths and
returns the call of one task function; every loop, branch and file read is in
``tasks/`` (``tests/soundflow/test_stages_declarations.py`` checks this).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from soundflow.pipeline.code_deps import code_closure, source_digest
from soundflow.pipeline.config import Params

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

# workflow 5: text-to-audio augmentation (generation, features, train x configurations, evaluate, summary)
T2A_GENERATED = "data/generated/t2a"
T2A_STORES = "data/features/t2a"  # real/ and generated/: feature stores of logmel_t2a
T2A_FEATURES_SUMMARY = "reports/t2a/features.json"
T2A_MODELS = "outputs/t2a/models"  # <config>.pt with its history and summary
T2A_TRAIN_RUNS = "reports/t2a/train_runs.csv"
T2A_RUNS = "reports/t2a/runs.csv"  # one nested MLflow run per row
T2A_METRICS = "reports/t2a/metrics.json"
T2A_SUMMARY = "reports/t2a/summary.csv"
T2A_SUMMARY_PNG = "reports/t2a/summary.png"
T2A_ACCURACY_PLOT = "reports/t2a/accuracy_vs_synthetic.png"
# workflow 4: spectral transcoding (third-octave -> Mel; Tailleur et al., DCASE 2023)
TC_SOUNDSCAPES = "data/generated/transcoder_soundscapes"
TC_FEATURES = "data/features/transcoder"  # <source>/{third_octave,logmel_*}/ stores and <source>/table.csv
TC_FEATURES_SUMMARY = "reports/transcoder/features.json"
TC_TEACHER = "outputs/transcoder/teacher.pt"
TC_TEACHER_SUMMARY = "reports/transcoder/teacher.json"
TC_TEACHER_HISTORY = "reports/transcoder/teacher_history.csv"
TC_PINV = "outputs/transcoder/pinv.npz"
TC_PINV_REPORT = "reports/transcoder/pinv.json"
TC_CNN_MELS = "outputs/transcoder/cnn_mels.pt"
TC_CNN_MELS_SUMMARY = "reports/transcoder/cnn_mels.json"
TC_CNN_MELS_HISTORY = "reports/transcoder/cnn_mels_history.csv"
TC_CNN_LOGITS = "outputs/transcoder/cnn_logits.pt"
TC_CNN_LOGITS_SUMMARY = "reports/transcoder/cnn_logits.json"
TC_CNN_LOGITS_HISTORY = "reports/transcoder/cnn_logits_history.csv"
TC_HEADS = "outputs/transcoder/heads"
TC_METRICS = "reports/transcoder/metrics.json"
TC_RESULTS = "reports/transcoder/results.csv"
TC_PER_CLASS = "reports/transcoder/per_class.csv"
TC_TABLE = "reports/transcoder/results_table.csv"
TC_TABLE_PNG = "reports/transcoder/results_table.png"
TC_AUDIO = "outputs/transcoder/audio"
# workflow 3: multi-source sound localisation
LOC_SCENES = "data/generated/av_scenes"
LOC_PSEUDO = "data/generated/av_pseudo_pairs"  # the training pairs' records with the AED classifier's labels
LOC_PSEUDO_REPORT = "reports/localisation/pseudo_labels.json"
LOC_HDF5 = "data/features/localisation"  # one audiovisual feature store per split: <split>/shard-*.h5
LOC_HDF5_SUMMARY = "reports/localisation/hdf5.json"
LOC_STAGE1_MODEL = "outputs/localisation/stage1.pt"
LOC_STAGE1_SUMMARY = "reports/localisation/stage1.json"
LOC_STAGE1_HISTORY = "reports/localisation/stage1_history.csv"
LOC_STAGE1_CURVES = "reports/localisation/stage1_curves.png"
LOC_STAGE2_MODEL = "outputs/localisation/stage2.pt"
LOC_STAGE2_SUMMARY = "reports/localisation/stage2.json"
LOC_STAGE2_HISTORY = "reports/localisation/stage2_history.csv"
LOC_STAGE2_CURVES = "reports/localisation/stage2_curves.png"
LOC_METRICS = "reports/localisation/metrics.json"
LOC_MAPS = "outputs/localisation/maps.npz"
LOC_OVERLAYS = "reports/localisation/overlays.png"
LOC_SUCCESS = "reports/localisation/success_rate.png"

STATE_DIR = ".soundflow"  # ignored: resumable training state, Prefect's home
PYTHON = ".venv/bin/python"  # the stage commands' interpreter, relative to the root where DVC runs them


@dataclass(frozen=True)
class Stage:
    """One stage: ``run(params, root)`` does the work; the rest says what it reads and writes.

    Its code dependencies are not declared: :attr:`code_deps` derives them from the imports of ``run``
    (:mod:`soundflow.pipeline.code_deps`), so no edit of the task code can leave a stage "up to date". This file
    itself is not among them, although every ``run`` lives here: it is the table of all stages, and as a
    dependency any edit of one row would rerun every stage. A row's declarations reach DVC through
    ``dvc.yaml`` anyway, and the source of ``run`` (and of any function here it calls) is hashed into the
    stage's command (``--code``), so an edit of it reruns exactly the stages that execute it. Should task
    code ever import this module, it joins that stage's closure like any other file.
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
    runs: str | None = None  # CSV of per-configuration records, one nested MLflow run per row (tracking.log_runs)
    flow: str = "default"  # the Prefect sub-flow the stage belongs to
    # outs DVC must not delete before rerunning the stage, for stages that add to what an earlier run left
    persist: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not set(self.persist) <= set(self.outs):
            raise ValueError(f"{self.name}: persist {sorted(set(self.persist) - set(self.outs))} not among its outs")

    @property
    def cmd(self) -> str:
        # the project's interpreter, not whatever `python` PATH holds: DVC deletes a stage's outputs before it
        # runs the command, so `.venv/bin/dvc repro` without the venv on PATH must not find another python.
        # --code: a digest of ``run`` and the helpers here it calls, so editing them reruns the stage (see above)
        return f"{PYTHON} -m soundflow stage {self.name} --code {self.run_digest}"

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
    from tasks.datasets.fetch import fetch_listed

    d = p.data.download
    return fetch_listed(d.datasets, root / DATASETS, root / DATASETS_INDEX, root=root, base_url=d.base_url)


def _features(p: Params, root: Path) -> object:
    from tasks.features.build import FeatureSources, build_feature_sets

    sources = FeatureSources(root, URBAN_SYNTH, STREET_SCENES, DATASETS_INDEX)
    return build_feature_sets(
        p.features, p.aed.features, sources, root / FEATURE_STORES, root / FEATURES_SUMMARY, root / FEATURES_EXAMPLES
    )


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
    from tasks.aed.extract import extract_dataset_chunks

    return extract_dataset_chunks(
        root / p.aed.data.root,
        p.aed.data.format,
        p.aed.features,
        p.aed.data.max_bad_fraction,
        root / AED_CHUNKS,
        root / AED_FEATURES_SUMMARY,
        root / AED_SKIPPED,
        root=root,
    )


def _aed_train(p: Params, root: Path) -> object:
    from soundflow.training import FitFiles
    from tasks.aed.train import train_and_plot

    files = FitFiles(root / STATE_DIR / "aed_train", root / AED_MODEL, root / AED_HISTORY, root / AED_TRAIN_SUMMARY)
    return train_and_plot(root / AED_CHUNKS, files, root / AED_CURVES, p.aed.data, p.aed.model, p.aed.train)


def _aed_evaluate(p: Params, root: Path) -> object:
    from tasks.aed.evaluate import evaluate_test_folds

    return evaluate_test_folds(
        root / AED_CHUNKS,
        root / AED_MODEL,
        root / AED_METRICS,
        root / AED_PREDICTIONS,
        root / AED_CONFUSION,
        p.aed.data,
        p.aed.evaluate,
        device=p.aed.train.device,
    )


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


def _seg_class_weights(p: Params, root: Path) -> object:
    from tasks.segmentation.weights import class_weights_report

    return class_weights_report(p.seg, root / p.seg.data.root, root / SEG_WEIGHTS)


def _seg_train(p: Params, root: Path) -> object:
    from soundflow.training import FitFiles
    from tasks.segmentation.train import train_from_weights

    files = FitFiles(root / STATE_DIR / "seg_train", root / SEG_MODEL, root / SEG_HISTORY, root / SEG_TRAIN_SUMMARY)
    # the generator's parameters stand for the generated images' content in the resume fingerprint
    identity = p.data.street_scenes.model_dump()
    return train_from_weights(
        root / SEG_WEIGHTS, root / p.seg.data.root, p.seg, files, root / SEG_CURVES, data_identity=identity
    )


def _seg_evaluate(p: Params, root: Path) -> object:
    from tasks.segmentation.evaluate import evaluate_split

    return evaluate_split(
        root / SEG_MODEL, root / p.seg.data.root, p.seg, root / SEG_METRICS, root / SEG_IOU_TABLE, root / SEG_IOU_PLOT
    )


def _seg_predict(p: Params, root: Path) -> object:
    from tasks.segmentation.predict import predict_test_images

    return predict_test_images(root / SEG_MODEL, root / p.seg.predict.images, root / SEG_PREDICTIONS, p.seg, root=root)


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
    from tasks.soundscapes.report import synthesize_and_report

    q = p.soundscapes
    return synthesize_and_report(
        root / SEG_FRACTIONS, root / q.mapping, root / q.library, root / SOUNDSCAPES, q.synthesis, root=root
    )


def _t2a_generate(p: Params, root: Path) -> object:
    from tasks.text_to_audio.generate import generate_clips

    t = p.text_to_audio
    return generate_clips(
        root / t.real.root,
        t.real,
        root / t.prompts,
        t.generate,
        root / T2A_GENERATED,
        data_types=t.experiment.data_types,
    )


def _t2a_features(p: Params, root: Path) -> object:
    from tasks.text_to_audio.features import build_stores

    t = p.text_to_audio
    return build_stores(
        root / t.real.root,
        t.real,
        root / T2A_GENERATED,
        t.features,
        root / T2A_STORES,
        root / T2A_FEATURES_SUMMARY,
        root=root,
    )


def _t2a_train(p: Params, root: Path) -> object:
    from tasks.text_to_audio.train import train_configurations

    t = p.text_to_audio
    return train_configurations(
        root / T2A_STORES,
        t.features,
        t.experiment,
        t.generate.multipliers,
        root / T2A_MODELS,
        root / STATE_DIR / "t2a_train",
        root / T2A_TRAIN_RUNS,
    )


def _t2a_evaluate(p: Params, root: Path) -> object:
    from tasks.text_to_audio.evaluate import evaluate_runs

    stores, models_dir = root / T2A_STORES, root / T2A_MODELS
    return evaluate_runs(
        stores, root / T2A_TRAIN_RUNS, models_dir, p.text_to_audio, root / T2A_RUNS, root / T2A_METRICS
    )


def _t2a_summary(p: Params, root: Path) -> object:
    from tasks.text_to_audio.summary import summarise

    plot, generator = root / T2A_ACCURACY_PLOT, p.text_to_audio.generate.generator
    return summarise(root / T2A_RUNS, root / T2A_SUMMARY, root / T2A_SUMMARY_PNG, plot, generator)


def _tc_soundscapes(p: Params, root: Path) -> object:
    from tasks.transcoder.soundscapes import generate_soundscapes

    return generate_soundscapes(root / TC_SOUNDSCAPES, p.transcoder.data)


def _tc_features(p: Params, root: Path) -> object:
    from tasks.transcoder.features import SourcePaths, build_transcoder_features

    src = SourcePaths(root, TC_SOUNDSCAPES, URBAN_SYNTH, DATASETS_INDEX)
    return build_transcoder_features(p.transcoder, p.features, src, root / TC_FEATURES, root / TC_FEATURES_SUMMARY)


def _tc_teacher(p: Params, root: Path) -> object:
    from soundflow.training import FitFiles
    from tasks.transcoder.teacher import prepare_teacher

    files = FitFiles(
        root / STATE_DIR / "tc_teacher", root / TC_TEACHER, root / TC_TEACHER_HISTORY, root / TC_TEACHER_SUMMARY
    )
    return prepare_teacher(root / TC_FEATURES / p.transcoder.data.train_source, p.transcoder, files, root)


def _tc_pinv(p: Params, root: Path) -> object:
    from tasks.transcoder.pinv_report import pinv_report

    features = root / TC_FEATURES / p.transcoder.data.train_source
    return pinv_report(features, root / TC_TEACHER, p.transcoder, root / TC_PINV, root / TC_PINV_REPORT)


def _tc_cnn_mels(p: Params, root: Path) -> object:
    from soundflow.training import FitFiles
    from tasks.transcoder.train import train_transcoder

    files = FitFiles(
        root / STATE_DIR / "tc_cnn_mels", root / TC_CNN_MELS, root / TC_CNN_MELS_HISTORY, root / TC_CNN_MELS_SUMMARY
    )
    features = root / TC_FEATURES / p.transcoder.data.train_source
    return train_transcoder(features, root / TC_TEACHER, "mels", p.transcoder, files)


def _tc_cnn_logits(p: Params, root: Path) -> object:
    from soundflow.training import FitFiles
    from tasks.transcoder.train import train_transcoder

    files = FitFiles(
        root / STATE_DIR / "tc_cnn_logits",
        root / TC_CNN_LOGITS,
        root / TC_CNN_LOGITS_HISTORY,
        root / TC_CNN_LOGITS_SUMMARY,
    )
    features = root / TC_FEATURES / p.transcoder.data.train_source
    return train_transcoder(features, root / TC_TEACHER, "logits", p.transcoder, files)


def _tc_evaluate(p: Params, root: Path) -> object:
    from tasks.transcoder.evaluate import EvalPaths, evaluate_transcoders

    models = (root / TC_TEACHER, root / TC_CNN_MELS, root / TC_CNN_LOGITS, root / p.transcoder.heads.grouping)
    reports = (root / TC_METRICS, root / TC_RESULTS, root / TC_PER_CLASS, root / TC_TABLE, root / TC_TABLE_PNG)
    return evaluate_transcoders(EvalPaths(root / TC_FEATURES, *models, root / TC_HEADS, *reports), p.transcoder)


def _tc_audio(p: Params, root: Path) -> object:
    from tasks.transcoder.audio import audio_examples

    features = root / TC_FEATURES / p.transcoder.data.multilabel_source
    return audio_examples(features, p.transcoder, root / TC_CNN_MELS, root / TC_CNN_LOGITS, root / TC_AUDIO, root)


def _loc_scenes(p: Params, root: Path) -> object:
    from tasks.procedural.av_scenes.writer import scenes_from_params

    return scenes_from_params(root / LOC_SCENES, p.localisation.scenes, p.localisation.data)


def _loc_hdf5(p: Params, root: Path) -> object:
    from tasks.localisation.build import build_split_stores

    q = p.localisation
    return build_split_stores(
        root / LOC_SCENES,
        root / LOC_HDF5,
        root / LOC_HDF5_SUMMARY,
        q.data,
        q.scenes.categories,
        pseudo_root=root / LOC_PSEUDO,
    )


def _loc_pseudo_labels(p: Params, root: Path) -> object:
    from tasks.localisation.relabel import pseudo_label_pairs

    q = p.localisation
    return pseudo_label_pairs(
        root / LOC_SCENES,
        root / LOC_PSEUDO,
        root / LOC_PSEUDO_REPORT,
        (root / AED_MODEL, root / q.pseudo_label_mapping),
        q.scenes.categories,
        q.pseudo_labels,
        apply=q.data.labels == "pseudo",
    )


def _loc_stage1(p: Params, root: Path) -> object:
    from soundflow.training import FitFiles
    from tasks.localisation.train import train_stage

    files = FitFiles(
        root / STATE_DIR / "loc_stage1", root / LOC_STAGE1_MODEL, root / LOC_STAGE1_HISTORY, root / LOC_STAGE1_SUMMARY
    )
    return train_stage(1, root / LOC_HDF5, files, root / LOC_STAGE1_CURVES, p.localisation)


def _loc_stage2(p: Params, root: Path) -> object:
    from soundflow.training import FitFiles
    from tasks.localisation.train import train_stage

    files = FitFiles(
        root / STATE_DIR / "loc_stage2", root / LOC_STAGE2_MODEL, root / LOC_STAGE2_HISTORY, root / LOC_STAGE2_SUMMARY
    )
    return train_stage(
        2, root / LOC_HDF5, files, root / LOC_STAGE2_CURVES, p.localisation, init=root / LOC_STAGE1_MODEL
    )


def _loc_evaluate(p: Params, root: Path) -> object:
    from tasks.localisation.evaluate import evaluate_test_split

    return evaluate_test_split(
        root / LOC_HDF5,
        root / LOC_STAGE2_MODEL,
        root / LOC_METRICS,
        root / LOC_MAPS,
        root / LOC_OVERLAYS,
        root / LOC_SUCCESS,
        p.localisation,
    )


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
        desc="Train the AED CNN on spectrogram chunks (validation split by source recording)",
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
        desc="Per-class IoU, mIoU and pixel accuracy on the held-out test split (one confusion matrix)",
        run=_seg_evaluate,
        deps=("${seg.data.root}", SEG_MODEL),
        params=("seg.data", "seg.evaluate", "seg.predict.batch_size"),
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
    Stage(
        name="t2a_generate",
        desc="Generate clips per class from text prompts (real count x the largest multiplier), UrbanSound8K layout",
        run=_t2a_generate,
        deps=("${text_to_audio.real.root}", "${text_to_audio.prompts}"),
        params=(
            "text_to_audio.real",
            "text_to_audio.prompts",
            "text_to_audio.generate",
            "text_to_audio.experiment.data_types",  # a real-only experiment generates nothing
        ),
        outs=(T2A_GENERATED,),
        persist=(T2A_GENERATED,),  # finished clips are kept: a rerun generates only the missing ones
        flow="text_to_audio",
    ),
    Stage(
        name="t2a_features",
        desc="logmel_t2a feature stores of the real and the generated clips (4 s repeat-padded)",
        run=_t2a_features,
        deps=("${text_to_audio.real.root}", T2A_GENERATED),
        params=("text_to_audio.real", "text_to_audio.features"),
        outs=(T2A_STORES,),
        persist=(T2A_STORES,),
        metrics=(T2A_FEATURES_SUMMARY,),
        flow="text_to_audio",
    ),
    Stage(
        name="t2a_train",
        desc="Train each (classifier, training set, multiplier, test fold) with early stopping on validation loss",
        run=_t2a_train,
        deps=(T2A_STORES,),
        params=("text_to_audio.features", "text_to_audio.experiment", "text_to_audio.generate.multipliers"),
        outs=(T2A_MODELS,),
        plots=(T2A_TRAIN_RUNS,),
        flow="text_to_audio",
    ),
    Stage(
        name="t2a_evaluate",
        desc="Accuracy of every configuration on its real test fold (one MLflow run each)",
        run=_t2a_evaluate,
        deps=(T2A_STORES, T2A_MODELS, T2A_TRAIN_RUNS),
        params=("text_to_audio.features", "text_to_audio.generate.generator", "text_to_audio.experiment.device"),
        outs=(),
        metrics=(T2A_METRICS,),
        plots=(T2A_RUNS,),
        runs=T2A_RUNS,
        flow="text_to_audio",
    ),
    Stage(
        name="t2a_summary",
        desc="Accuracy mean and std over folds per configuration (CSV, PNG) and against the synthetic share",
        run=_t2a_summary,
        deps=(T2A_RUNS,),
        params=("text_to_audio.generate.generator",),
        outs=(),
        plots=(T2A_SUMMARY, T2A_SUMMARY_PNG, T2A_ACCURACY_PLOT),
        flow="text_to_audio",
    ),
    Stage(
        name="transcoder_soundscapes",
        desc="Scaper soundscapes of procedural urban sounds with JAMS event labels (the transcoder's offline data)",
        run=_tc_soundscapes,
        deps=(),
        params=("transcoder.data",),
        outs=(TC_SOUNDSCAPES,),
        flow="spectral_transcoder",
    ),
    Stage(
        name="transcoder_features",
        desc="Paired third-octave and Mel stores of the transcoder's sources, split by clip",
        run=_tc_features,
        deps=(TC_SOUNDSCAPES, URBAN_SYNTH, DATASETS),
        params=(
            "transcoder.data",
            "transcoder.teacher.name",
            "transcoder.device",
            "features.shard_size",
            "features.workers",
        ),
        outs=(TC_FEATURES,),
        persist=(TC_FEATURES,),
        metrics=(TC_FEATURES_SUMMARY,),
        flow="spectral_transcoder",
    ),
    Stage(
        name="transcoder_teacher",
        desc="The frozen teacher: an official checkpoint loaded strictly, or a reduced CNN14 trained on the chunks",
        run=_tc_teacher,
        deps=(TC_FEATURES,),
        params=("transcoder.teacher", "transcoder.data.min_event_overlap", "transcoder.seed", "transcoder.device"),
        outs=(TC_TEACHER,),
        metrics=(TC_TEACHER_SUMMARY,),
        plots=(TC_TEACHER_HISTORY,),
        artifacts=(TC_TEACHER,),
        history=TC_TEACHER_HISTORY,
        flow="spectral_transcoder",
    ),
    Stage(
        name="transcoder_pinv",
        desc="PINV transcoder (clipped pseudo-inverse of the band matrix, Mel filterbank): matrices, validation error",
        run=_tc_pinv,
        deps=(TC_FEATURES, TC_TEACHER),
        params=("transcoder.teacher.name", "transcoder.device"),
        outs=(TC_PINV,),
        metrics=(TC_PINV_REPORT,),
        flow="spectral_transcoder",
    ),
    Stage(
        name="transcoder_cnn_mels",
        desc="CNN-mels: residual CNN on the PINV output, MSE to the true Mel",
        run=_tc_cnn_mels,
        deps=(TC_FEATURES, TC_TEACHER),
        params=("transcoder.train", "transcoder.teacher.name", "transcoder.seed", "transcoder.device"),
        outs=(TC_CNN_MELS,),
        metrics=(TC_CNN_MELS_SUMMARY,),
        plots=(TC_CNN_MELS_HISTORY,),
        artifacts=(TC_CNN_MELS,),
        history=TC_CNN_MELS_HISTORY,
        flow="spectral_transcoder",
    ),
    Stage(
        name="transcoder_cnn_logits",
        desc="CNN-logits: residual CNN on the PINV output, BCE to the frozen teacher's outputs on the true Mel",
        run=_tc_cnn_logits,
        deps=(TC_FEATURES, TC_TEACHER),
        params=("transcoder.train", "transcoder.teacher.name", "transcoder.seed", "transcoder.device"),
        outs=(TC_CNN_LOGITS,),
        metrics=(TC_CNN_LOGITS_SUMMARY,),
        plots=(TC_CNN_LOGITS_HISTORY,),
        artifacts=(TC_CNN_LOGITS,),
        history=TC_CNN_LOGITS_HISTORY,
        flow="spectral_transcoder",
    ),
    Stage(
        name="transcoder_evaluate",
        desc="Teacher top-1 agreement, multilabel AUPRC/ROC-AUC and single-label accuracy (deep and grouping heads)",
        run=_tc_evaluate,
        deps=(TC_FEATURES, TC_TEACHER, TC_CNN_MELS, TC_CNN_LOGITS, "${transcoder.heads.grouping}"),
        params=(
            "transcoder.data",
            "transcoder.heads",
            "transcoder.teacher.name",
            "transcoder.seed",
            "transcoder.device",
        ),
        outs=(TC_HEADS,),
        metrics=(TC_METRICS,),
        plots=(TC_RESULTS, TC_PER_CLASS, TC_TABLE, TC_TABLE_PNG),
        flow="spectral_transcoder",
    ),
    Stage(
        name="transcoder_audio",
        desc="Audio back from spectra (Griffin-Lim) of a few evaluation clips: true Mel and each transcoder",
        run=_tc_audio,
        deps=(TC_FEATURES, TC_CNN_MELS, TC_CNN_LOGITS),
        params=(
            "transcoder.audio",
            "transcoder.teacher.name",
            "transcoder.data.multilabel_source",
            "transcoder.device",
        ),
        outs=(TC_AUDIO,),
        artifacts=(TC_AUDIO,),
        flow="spectral_transcoder",
    ),
    Stage(
        name="loc_scenes",
        desc="Generate procedural audiovisual scenes (sounding and silent objects, clips, annotator boxes)",
        run=_loc_scenes,
        deps=(),
        params=("localisation.scenes", "localisation.data.clip_seconds"),
        outs=(LOC_SCENES,),
        flow="sound_localisation",
    ),
    Stage(
        name="loc_pseudo_labels",
        desc="Label the training pairs' clips with the AED classifier, its classes mapped to the K categories",
        run=_loc_pseudo_labels,
        deps=(LOC_SCENES, AED_MODEL, "${localisation.pseudo_label_mapping}"),
        params=("localisation.scenes.categories", "localisation.pseudo_labels", "localisation.data.labels"),
        outs=(LOC_PSEUDO,),
        metrics=(LOC_PSEUDO_REPORT,),
        flow="sound_localisation",
    ),
    Stage(
        name="loc_hdf5",
        desc="Frames, log-mel, labels and boxes of every pair into one audiovisual feature store per split",
        run=_loc_hdf5,
        deps=(LOC_SCENES, LOC_PSEUDO),
        params=("localisation.scenes.categories", "localisation.data"),
        outs=(LOC_HDF5,),
        persist=(LOC_HDF5,),
        metrics=(LOC_HDF5_SUMMARY,),
        flow="sound_localisation",
    ),
    Stage(
        name="loc_stage1",
        desc="Stage 1: audio/visual class BCEs and audiovisual correspondence (SGD)",
        run=_loc_stage1,
        deps=(LOC_HDF5,),
        params=("localisation.scenes.categories", "localisation.data", "localisation.model", "localisation.stage1"),
        outs=(LOC_STAGE1_MODEL,),
        metrics=(LOC_STAGE1_SUMMARY,),
        plots=(LOC_STAGE1_HISTORY, LOC_STAGE1_CURVES),
        artifacts=(LOC_STAGE1_MODEL,),
        history=LOC_STAGE1_HISTORY,
        flow="sound_localisation",
    ),
    Stage(
        name="loc_stage2",
        desc="Stage 2 from stage 1's weights: class-aware embeddings and the gated distance loss",
        run=_loc_stage2,
        deps=(LOC_HDF5, LOC_STAGE1_MODEL),
        params=("localisation.scenes.categories", "localisation.data", "localisation.model", "localisation.stage2"),
        outs=(LOC_STAGE2_MODEL,),
        metrics=(LOC_STAGE2_SUMMARY,),
        plots=(LOC_STAGE2_HISTORY, LOC_STAGE2_CURVES),
        artifacts=(LOC_STAGE2_MODEL,),
        history=LOC_STAGE2_HISTORY,
        flow="sound_localisation",
    ),
    Stage(
        name="loc_evaluate",
        desc="Maps, cIoU@0.5 / mean cIoU / AUC in both conventions, multi-source cIoU, baselines, overlays",
        run=_loc_evaluate,
        deps=(LOC_HDF5, LOC_STAGE2_MODEL),
        params=("localisation.scenes.categories", "localisation.data", "localisation.evaluate"),
        outs=(LOC_MAPS,),
        metrics=(LOC_METRICS,),
        plots=(LOC_OVERLAYS, LOC_SUCCESS),
        flow="sound_localisation",
    ),
)

BY_NAME: dict[str, Stage] = {s.name: s for s in STAGES}


def get_stage(name: str) -> Stage:
    try:
        return BY_NAME[name]
    except KeyError:
        raise KeyError(f"unknown stage {name!r}; stages: {', '.join(BY_NAME)}") from None
