"""Parameters of acoustic event classification (workflow 2): the ``aed`` section of params.yaml."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from soundflow.params_base import MAX_BATCH, MAX_EPOCHS, MAX_WORKERS, Seed, Strict
from tasks.features.params import AedFeatureParams

MAX_CNN_WIDTH = 1024  # aed.model.width: the paper's 64 already gives 1024 channels in the last conv
MAX_DENSE = 16_384  # aed.model.dense: the paper's 512
# what tasks.aed.train.build_model passes: a registered network without them (erfnet) is no AED classifier
CLASSIFIER_ARGS = frozenset({"n_classes", "input_shape", "width", "dense", "dropout"})


class AedDataParams(Strict):
    """Which labelled audio the classifier uses and how it is split."""

    root: str
    format: Literal["urbansound8k", "esc50"]
    test_folds: list[int] = Field(min_length=1)
    val_fraction: float = Field(gt=0, lt=1)
    max_bad_fraction: float = Field(ge=0, le=1)


# the model registry (models/) spelled out, and which of its networks take CLASSIFIER_ARGS: importing it loads
# torch, and every stage validates params.yaml before its work (a test keeps these equal to the registry)
MODEL_NAMES: tuple[str, ...] = (
    "aed_cnn",
    "av_localisation",
    "crnn",
    "deep_head",
    "erfnet",
    "pann_cnn14",
    "pann_resnet38",
    "salamon_cnn",
    "transcoder_cnn",
    "yamnet",
)
CLASSIFIERS: tuple[str, ...] = ("aed_cnn",)


class AedModelParams(Strict):
    name: str  # a classifier of the model registry (models/)
    width: int = Field(ge=1, le=MAX_CNN_WIDTH)
    dense: int = Field(ge=1, le=MAX_DENSE)
    dropout: float = Field(ge=0, lt=1)

    @field_validator("name")
    @classmethod
    def _registered_classifier(cls, v: str) -> str:
        if v not in MODEL_NAMES:
            raise ValueError(f"unknown model {v!r}; registered: {', '.join(MODEL_NAMES)}")
        if v not in CLASSIFIERS:
            missing = ", ".join(sorted(CLASSIFIER_ARGS))
            raise ValueError(f"model {v!r} is not an audio event classifier (it does not take all of {missing})")
        return v


class AedTrainParams(Strict):
    epochs: int = Field(ge=1, le=MAX_EPOCHS)
    batch_size: int = Field(ge=1, le=MAX_BATCH)
    lr_start: float = Field(gt=0)
    lr_end: float = Field(gt=0)
    beta1: float = Field(ge=0, lt=1)
    seed: Seed
    roll_prob: float = Field(ge=0, le=1)
    roll_max_fraction: float = Field(ge=0, lt=1)
    max_batches_per_epoch: int = Field(ge=0)  # 0 = all
    device: Literal["auto", "cpu", "cuda"]
    num_workers: int = Field(ge=0, le=MAX_WORKERS)


class AedEvaluateParams(Strict):
    map_top_k: int = Field(ge=1)


class AedPredictParams(Strict):
    results: int = Field(ge=1)
    confidence: float = Field(ge=0, le=1)
    overlap: float = Field(ge=0)


class AedParams(Strict):
    data: AedDataParams
    features: AedFeatureParams
    model: AedModelParams
    train: AedTrainParams
    evaluate: AedEvaluateParams
    predict: AedPredictParams

    @model_validator(mode="after")
    def _overlap_fits(self) -> AedParams:
        if self.predict.overlap >= self.features.chunk_seconds:
            raise ValueError("predict.overlap must be shorter than features.chunk_seconds")
        return self
