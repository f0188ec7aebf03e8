"""Parameters of text-to-audio augmentation (workflow 5): the ``text_to_audio`` section of params.yaml."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from soundflow.params_base import (
    MAX_BATCH,
    MAX_CLIP_SECONDS,
    MAX_EPOCHS,
    MAX_WORKERS,
    SampleRate,
    Seed,
    Strict,
    ordered,
)

MAX_MULTIPLIER = 20.0  # generated clips per real clip; the paper goes to 4 (400 %)
MAX_STEPS = 10_000  # diffusion steps; the paper's 200
DATA_TYPES = ("real", "generated", "real_generated", "replaced")


class RealDataParams(Strict):
    """The real dataset: a labelled audio folder with folds, in a layout of :mod:`tasks.datasets.labelled_audio`."""

    root: str
    format: Literal["urbansound8k", "esc50"]
    clips_per_class_per_fold: int | None = Field(default=None, ge=1, le=100_000)  # None: every clip


class AudioLdm2Params(Strict):
    model: str  # a hub id (cvssp/audioldm2) or a local folder of a saved pipeline
    steps: int = Field(ge=1, le=MAX_STEPS)
    guidance_scale: float = Field(ge=0, le=100)
    device: Literal["auto", "cpu", "cuda"]


class ProceduralParams(Strict):
    snr_db: tuple[float, float]  # event over street background, uniform per clip

    _ordered = field_validator("snr_db")(ordered)


class GenerateParams(Strict):
    generator: Literal["procedural", "audioldm2", "audiogen"]
    multipliers: list[float] = Field(min_length=1)  # each: generated clips per real clip of a class
    seconds: float = Field(gt=0, le=MAX_CLIP_SECONDS)
    sample_rate: SampleRate
    seed: Seed
    batch_size: int = Field(ge=1, le=MAX_BATCH)
    loudness_dbfs: float | None = Field(default=None, ge=-80, le=0)  # RMS level of each clip; None: as generated
    negative_prompt: str | None = None
    audioldm2: AudioLdm2Params
    procedural: ProceduralParams
    # local: the batches one after another in this process; dask: one Prefect task per batch on Prefect's
    # DaskTaskRunner, on $DASK_SCHEDULER_ADDRESS or a temporary local cluster (the same clips either way)
    runner: Literal["local", "dask"]

    @field_validator("multipliers")
    @classmethod
    def _positive(cls, v: list[float]) -> list[float]:
        bad = [m for m in v if not 0 < m <= MAX_MULTIPLIER]
        if bad:
            raise ValueError(f"multipliers must be in (0, {MAX_MULTIPLIER}], got {bad}")
        return v


class T2aFeatureParams(Strict):
    clip_seconds: float = Field(gt=0, le=MAX_CLIP_SECONDS)  # every clip repeat-padded or cropped to this
    shard_size: int = Field(ge=1, le=100_000)
    workers: int = Field(ge=1, le=MAX_WORKERS)
    device: Literal["auto", "cpu", "cuda"]


class ExperimentParams(Strict):
    classifiers: list[Literal["salamon_cnn", "crnn"]] = Field(min_length=1)
    data_types: list[Literal["real", "generated", "real_generated", "replaced"]] = Field(min_length=1)
    replace_folds: int = Field(ge=1, le=100)  # training folds whose real clips the generated ones replace
    test_folds: list[int] = Field(min_length=1)  # each a rotation: test k, validation k + 1, the rest train
    # next_fold: UrbanSound8K's rotation (validation = fold k + 1); by_source: every other fold trains and
    # val_fraction of each class's real training clips validate, whole source recordings (fsID / src_file)
    validation: Literal["next_fold", "by_source"]
    val_fraction: float = Field(gt=0, lt=1)  # by_source only
    epochs: int = Field(ge=1, le=MAX_EPOCHS)
    patience: int = Field(ge=1, le=MAX_EPOCHS)
    batch_size: int = Field(ge=1, le=MAX_BATCH)
    lr: float = Field(gt=0, le=1)
    weight_decay: float = Field(ge=0, le=1)
    dropout: float = Field(ge=0, lt=1)
    crnn_channels: int = Field(ge=1, le=1024)  # filters of each CRNN conv block
    seed: Seed
    device: Literal["auto", "cpu", "cuda"]
    # local: one configuration after another in this process; dask: one Prefect task each on Prefect's
    # DaskTaskRunner, on $DASK_SCHEDULER_ADDRESS or a temporary local cluster (tasks/text_to_audio/dask_configs.py)
    runner: Literal["local", "dask"]


class TextToAudioParams(Strict):
    prompts: str  # the prompt file (YAML): templates and a description per class
    real: RealDataParams
    generate: GenerateParams
    features: T2aFeatureParams
    experiment: ExperimentParams


def uses_generated(data_types: list[str]) -> bool:
    """Whether any training set of ``data_types`` holds generated clips (only ``real`` does not)."""
    return any(kind != "real" for kind in data_types)
