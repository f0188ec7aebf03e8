"""Workflow 4, spectral transcoding: third-octave to Mel (Tailleur et al., DCASE 2023), judged through a
frozen teacher (macro AUPRC, the original's "mAUC").

Its stages, its flow and its params sections; found by the registry (soundflow.pipeline.stages).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from flows.workflows.data import DATASETS, DATASETS_INDEX, URBAN_SYNTH
from soundflow.env import STATE_DIR
from soundflow.pipeline.stage import Curve, Stage, Workflow
from tasks.transcoder.params import TranscoderParams

if TYPE_CHECKING:
    from soundflow.pipeline.params_view import ParamsView

TRANSCODER_SOUNDSCAPES = "data/generated/transcoder_soundscapes"
TRANSCODER_FEATURES = "data/features/transcoder"  # <source>/{third_octave,logmel_*}/ stores and <source>/table.csv
TRANSCODER_FEATURES_SUMMARY = "reports/transcoder/features.json"
TRANSCODER_TEACHER = "outputs/transcoder/teacher.pt"
TRANSCODER_TEACHER_SUMMARY = "reports/transcoder/teacher.json"
TRANSCODER_TEACHER_HISTORY = "reports/transcoder/teacher_history.csv"
TRANSCODER_PINV = "outputs/transcoder/pinv.npz"
TRANSCODER_PINV_REPORT = "reports/transcoder/pinv.json"
TRANSCODER_CNN_MELS = "outputs/transcoder/cnn_mels.pt"
TRANSCODER_CNN_MELS_SUMMARY = "reports/transcoder/cnn_mels.json"
TRANSCODER_CNN_MELS_HISTORY = "reports/transcoder/cnn_mels_history.csv"
TRANSCODER_CNN_LOGITS = "outputs/transcoder/cnn_logits.pt"
TRANSCODER_CNN_LOGITS_SUMMARY = "reports/transcoder/cnn_logits.json"
TRANSCODER_CNN_LOGITS_HISTORY = "reports/transcoder/cnn_logits_history.csv"
TRANSCODER_HEADS = "outputs/transcoder/heads"
TRANSCODER_METRICS = "reports/transcoder/metrics.json"
TRANSCODER_RESULTS = "reports/transcoder/results.csv"
TRANSCODER_PER_CLASS = "reports/transcoder/per_class.csv"
TRANSCODER_TABLE = "reports/transcoder/results_table.csv"
TRANSCODER_TABLE_PNG = "reports/transcoder/results_table.png"
TRANSCODER_AUDIO = "outputs/transcoder/audio"
# what both CNN transcoders (the students) are trained from: the same recipe, judged through the same teacher
STUDENT_PARAMS = (
    "transcoder.train",
    "transcoder.teacher.name",
    "transcoder.data.train_source",
    "transcoder.seed",
    "transcoder.device",
)
# transcoder_evaluate's outputs, in the order of tasks.transcoder.evaluate.EvalPaths
EVALUATION_OUTS = (
    TRANSCODER_HEADS,
    TRANSCODER_METRICS,
    TRANSCODER_RESULTS,
    TRANSCODER_PER_CLASS,
    TRANSCODER_TABLE,
    TRANSCODER_TABLE_PNG,
)


def _transcoder_soundscapes(p: ParamsView, root: Path) -> object:
    from tasks.transcoder.soundscapes import generate_soundscapes

    return generate_soundscapes(root / TRANSCODER_SOUNDSCAPES, p.transcoder.data)


def _transcoder_features(p: ParamsView, root: Path) -> object:
    from tasks.transcoder.features import SourcePaths, build_transcoder_features

    src = SourcePaths(root, TRANSCODER_SOUNDSCAPES, URBAN_SYNTH, DATASETS_INDEX)
    return build_transcoder_features(
        p.transcoder, p.features, src, root / TRANSCODER_FEATURES, root / TRANSCODER_FEATURES_SUMMARY
    )


def _transcoder_teacher(p: ParamsView, root: Path) -> object:
    from soundflow.training import FitFiles
    from tasks.transcoder.teacher import prepare_teacher

    files = FitFiles.under(
        root, f"{STATE_DIR}/tc_teacher", TRANSCODER_TEACHER, TRANSCODER_TEACHER_HISTORY, TRANSCODER_TEACHER_SUMMARY
    )
    return prepare_teacher(root / TRANSCODER_FEATURES / p.transcoder.data.train_source, p.transcoder, files, root)


def _transcoder_pinv(p: ParamsView, root: Path) -> object:
    from tasks.transcoder.pinv_report import pinv_report

    features = root / TRANSCODER_FEATURES / p.transcoder.data.train_source
    return pinv_report(
        features, root / TRANSCODER_TEACHER, p.transcoder, root / TRANSCODER_PINV, root / TRANSCODER_PINV_REPORT
    )


def _transcoder_cnn_mels(p: ParamsView, root: Path) -> object:
    from soundflow.training import FitFiles
    from tasks.transcoder.train import train_transcoder

    files = FitFiles.under(
        root, f"{STATE_DIR}/tc_cnn_mels", TRANSCODER_CNN_MELS, TRANSCODER_CNN_MELS_HISTORY, TRANSCODER_CNN_MELS_SUMMARY
    )
    features = root / TRANSCODER_FEATURES / p.transcoder.data.train_source
    return train_transcoder(features, root / TRANSCODER_TEACHER, "mels", p.transcoder, files)


def _transcoder_cnn_logits(p: ParamsView, root: Path) -> object:
    from soundflow.training import FitFiles
    from tasks.transcoder.train import train_transcoder

    files = FitFiles.under(
        root,
        f"{STATE_DIR}/tc_cnn_logits",
        TRANSCODER_CNN_LOGITS,
        TRANSCODER_CNN_LOGITS_HISTORY,
        TRANSCODER_CNN_LOGITS_SUMMARY,
    )
    features = root / TRANSCODER_FEATURES / p.transcoder.data.train_source
    return train_transcoder(features, root / TRANSCODER_TEACHER, "logits", p.transcoder, files)


def _transcoder_evaluate(p: ParamsView, root: Path) -> object:
    from tasks.transcoder.evaluate import EvalPaths, evaluate_transcoders

    inputs = (TRANSCODER_FEATURES, TRANSCODER_TEACHER, TRANSCODER_CNN_MELS, TRANSCODER_CNN_LOGITS)
    paths = EvalPaths.under(root, *inputs, p.transcoder.heads.grouping, *EVALUATION_OUTS)
    return evaluate_transcoders(paths, p.transcoder)


def _transcoder_audio(p: ParamsView, root: Path) -> object:
    from tasks.transcoder.audio import audio_examples

    features = root / TRANSCODER_FEATURES / p.transcoder.data.multilabel_source
    return audio_examples(
        features, p.transcoder, root / TRANSCODER_CNN_MELS, root / TRANSCODER_CNN_LOGITS, root / TRANSCODER_AUDIO, root
    )


WORKFLOW = Workflow(
    name="transcoder",
    doc="Workflow 4: third-octave -> Mel transcoders (PINV, CNN-mels, CNN-logits) judged through a frozen teacher",
    sections={"transcoder": TranscoderParams},
    headline="macro_auprc",
    headlines={"macro_AUPRC/*/*": "*/deep/*/macro_auprc", "top1_agreement/*/*": "top1/*/*/teacher_top1_agreement"},
    results=TRANSCODER_METRICS,
    aliases=("spectral_transcoder",),
    stages=(
        Stage(
            name="transcoder_soundscapes",
            desc="Scaper soundscapes of procedural urban sounds with JAMS event labels (the transcoder's offline data)",
            run=_transcoder_soundscapes,
            deps=(),
            params=("transcoder.data",),
            outs=(TRANSCODER_SOUNDSCAPES,),
        ),
        Stage(
            name="transcoder_features",
            desc="Paired third-octave and Mel stores of the transcoder's sources, split by clip",
            run=_transcoder_features,
            deps=(TRANSCODER_SOUNDSCAPES, URBAN_SYNTH, DATASETS),
            params=(
                "transcoder.data",
                "transcoder.teacher.name",
                "transcoder.device",
                "features.shard_size",
                "features.workers",
            ),
            outs=(TRANSCODER_FEATURES,),
            persist=(TRANSCODER_FEATURES,),
            metrics=(TRANSCODER_FEATURES_SUMMARY,),
        ),
        Stage(
            name="transcoder_teacher",
            desc="The frozen teacher: an official checkpoint loaded strictly, or a reduced CNN14 trained on the chunks",
            run=_transcoder_teacher,
            deps=(TRANSCODER_FEATURES,),
            params=(
                "transcoder.teacher",
                "transcoder.data.min_event_overlap",
                "transcoder.data.train_source",
                "transcoder.seed",
                "transcoder.device",
            ),
            outs=(TRANSCODER_TEACHER,),
            metrics=(TRANSCODER_TEACHER_SUMMARY,),
            plots=(TRANSCODER_TEACHER_HISTORY,),
            artifacts=(TRANSCODER_TEACHER,),
            history=TRANSCODER_TEACHER_HISTORY,
            ranked_by="deep/mel/macro_auprc",  # its own row of transcoder_evaluate
            curves=(Curve(TRANSCODER_TEACHER_HISTORY, "epoch", ("train_loss", "val_loss", "val_macro_auprc")),),
            cpu="4",  # a cluster step that trains: data loading workers and batches in memory
            memory="16Gi",
        ),
        Stage(
            name="transcoder_pinv",
            desc=(
                "PINV transcoder (clipped pseudo-inverse of the band matrix, Mel filterbank): matrices, validation"
                " error"
            ),
            run=_transcoder_pinv,
            deps=(TRANSCODER_FEATURES, TRANSCODER_TEACHER),
            params=("transcoder.teacher.name", "transcoder.data.train_source", "transcoder.device"),
            outs=(TRANSCODER_PINV,),
            metrics=(TRANSCODER_PINV_REPORT,),
        ),
        Stage(
            name="transcoder_cnn_mels",
            desc="CNN-mels: residual CNN on the PINV output, MSE to the true Mel",
            run=_transcoder_cnn_mels,
            deps=(TRANSCODER_FEATURES, TRANSCODER_TEACHER),
            params=STUDENT_PARAMS,
            outs=(TRANSCODER_CNN_MELS,),
            metrics=(TRANSCODER_CNN_MELS_SUMMARY,),
            plots=(TRANSCODER_CNN_MELS_HISTORY,),
            artifacts=(TRANSCODER_CNN_MELS,),
            history=TRANSCODER_CNN_MELS_HISTORY,
            ranked_by="deep/cnn_mels/macro_auprc",  # its own row of transcoder_evaluate
            curves=(
                Curve(TRANSCODER_CNN_MELS_HISTORY, "epoch", ("train_loss", "val_loss", "val_teacher_top1_agreement")),
            ),
            cpu="4",  # a cluster step that trains: data loading workers and batches in memory
            memory="16Gi",
        ),
        Stage(
            name="transcoder_cnn_logits",
            desc="CNN-logits: residual CNN on the PINV output, BCE to the frozen teacher's outputs on the true Mel",
            run=_transcoder_cnn_logits,
            deps=(TRANSCODER_FEATURES, TRANSCODER_TEACHER),
            params=STUDENT_PARAMS,
            outs=(TRANSCODER_CNN_LOGITS,),
            metrics=(TRANSCODER_CNN_LOGITS_SUMMARY,),
            plots=(TRANSCODER_CNN_LOGITS_HISTORY,),
            artifacts=(TRANSCODER_CNN_LOGITS,),
            history=TRANSCODER_CNN_LOGITS_HISTORY,
            ranked_by="deep/cnn_logits/macro_auprc",  # its own row of transcoder_evaluate
            curves=(
                Curve(TRANSCODER_CNN_LOGITS_HISTORY, "epoch", ("train_loss", "val_loss", "val_teacher_top1_agreement")),
            ),
            cpu="4",  # a cluster step that trains: data loading workers and batches in memory
            memory="16Gi",
        ),
        Stage(
            name="transcoder_evaluate",
            desc=(
                "Teacher top-1 agreement, multilabel AUPRC/ROC-AUC and single-label accuracy (deep and grouping heads)"
            ),
            run=_transcoder_evaluate,
            deps=(
                TRANSCODER_FEATURES,
                TRANSCODER_TEACHER,
                TRANSCODER_CNN_MELS,
                TRANSCODER_CNN_LOGITS,
                "${transcoder.heads.grouping}",
            ),
            params=(
                "transcoder.data",
                "transcoder.heads",
                "transcoder.teacher.name",
                "transcoder.seed",
                "transcoder.device",
            ),
            outs=(TRANSCODER_HEADS,),
            metrics=(TRANSCODER_METRICS,),
            plots=(TRANSCODER_RESULTS, TRANSCODER_PER_CLASS, TRANSCODER_TABLE, TRANSCODER_TABLE_PNG),
        ),
        Stage(
            name="transcoder_audio",
            desc="Audio back from spectra (Griffin-Lim) of a few evaluation clips: true Mel and each transcoder",
            run=_transcoder_audio,
            deps=(TRANSCODER_FEATURES, TRANSCODER_CNN_MELS, TRANSCODER_CNN_LOGITS),
            params=(
                "transcoder.audio",
                "transcoder.teacher.name",
                "transcoder.data.multilabel_source",
                "transcoder.device",
            ),
            outs=(TRANSCODER_AUDIO,),
            artifacts=(TRANSCODER_AUDIO,),
        ),
    ),
)
