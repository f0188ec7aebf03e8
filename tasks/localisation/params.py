"""Parameters of multi-source sound localisation (workflow 3): the ``localisation`` section of params.yaml.

The committed defaults are small so that the workflow's stages run in minutes on two CPU cores; the
paper's values (Qian et al., ECCV 2020) are given in params.yaml's comments.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from soundflow.params_base import MAX_BATCH, MAX_EPOCHS, MAX_IMAGE_SIDE, Seed, Strict, ordered

Fraction = Annotated[float, Field(ge=0, le=1)]


class LocScenesParams(Strict):
    """The procedural audiovisual scenes (``tasks.procedural.av_scenes``)."""

    categories: list[str] = Field(min_length=1)  # urban-sound classes, at most 10 (one look each): category k = entry k
    n_train: int = Field(ge=1, le=1_000_000)
    n_val: int = Field(ge=1, le=1_000_000)
    n_test: int = Field(ge=1, le=1_000_000)
    image_side: int = Field(ge=32, le=MAX_IMAGE_SIDE)
    two_source_prob: Fraction
    distractors: tuple[int, int]
    object_side: tuple[float, float]
    annotators: int = Field(ge=1, le=10)
    box_jitter: float = Field(ge=0, le=0.5)
    snr_db: tuple[float, float]
    seed: Seed

    @field_validator("categories")
    @classmethod
    def _one_look_each(cls, v: list[str]) -> list[str]:
        if len(v) > 10 or len(set(v)) != len(v):
            raise ValueError(f"at most 10 distinct categories (one look each), got {v}")
        return v

    @field_validator("distractors", "snr_db")
    @classmethod
    def _ordered(cls, v: tuple) -> tuple:
        return ordered(v)

    @field_validator("object_side")
    @classmethod
    def _fits(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not 0.05 <= ordered(v)[0] <= v[1] <= 0.9:
            raise ValueError("object sides must lie in 0.05 .. 0.9 of the image side")
        return v


class LocDataParams(Strict):
    """The HDF5 pairs (one feature store per split)."""

    frame_side: int = Field(ge=32, le=MAX_IMAGE_SIDE)
    clip_seconds: float = Field(gt=0, le=60)
    max_boxes: int = Field(ge=1, le=1000)
    shard_size: int = Field(ge=1, le=100_000)
    max_bad_fraction: Fraction
    labels: Literal["annotated", "pseudo"] = "annotated"  # pseudo: training pairs labelled by the AED classifier


class LocPseudoLabelParams(Strict):
    """Pseudo-labels of the training pairs: the AED classifier's probabilities mapped to the K categories."""

    threshold: Fraction  # a category is a label where its best mapped class's probability exceeds this
    device: Literal["auto", "cpu", "cuda"] = "auto"


class LocModelParams(Strict):
    name: str = "av_localisation"
    embed_dim: int = Field(ge=1, le=4096)
    proj_hidden: int = Field(ge=1, le=16_384)
    avc_hidden: int = Field(ge=1, le=16_384)
    imagenet_weights: str = ""  # a torchvision resnet18 state dict file; "" = visual backbone from scratch


class LocStageParams(Strict):
    """One training stage: SGD with momentum and weight decay, batch of pairs, horizontal flips."""

    epochs: int = Field(ge=1, le=MAX_EPOCHS)
    batch_size: int = Field(ge=2, le=MAX_BATCH)  # the correspondence loss needs mismatched pairs
    lr: float = Field(gt=0, le=10)
    momentum: float = Field(ge=0, lt=1)
    weight_decay: float = Field(ge=0, le=1)
    flip_prob: Fraction
    seed: Seed
    device: Literal["auto", "cpu", "cuda"] = "auto"
    num_workers: int = Field(ge=0, le=64)
    # early stopping: stop after this many epochs without a lower validation loss (None: every epoch runs);
    # the kept weights are the best epoch's either way, so the epochs it skips could not have changed them
    patience: int | None = Field(default=None, ge=1, le=MAX_EPOCHS)


class LocStage2Params(LocStageParams):
    class_gate: Fraction  # a (class, pair) enters the distance loss when both probabilities exceed this
    margin: float = Field(gt=0, le=2)  # negatives: relu(margin - sqrt(d))^2
    train_trunks: bool = True  # False: stage 1's backbones and class heads stay fixed, only the projections learn
    stage1_losses: bool = True  # the authors' code: stage 2 minimises stage 1's losses plus the distance loss


class LocEvaluateParams(Strict):
    map_class_threshold: Fraction  # classes whose audio probability exceeds this form the map
    class_aware: bool = True  # class k's pixel embeddings weighted by its activation (False: one per pixel)
    normalise_pixels: bool = True  # L2-normalised pixel embeddings (the authors' code; False: unnormalised)
    ciou_threshold: Fraction  # convention (a): pixels above this fraction of the map's max
    relative_area_keep: Fraction  # convention (b): min-max normalised, keep this share of the pixels
    multi_source_threshold: Fraction  # per-class maps: pixels above this fraction of the class map's max
    consensus_annotators: int = Field(ge=1, le=10)  # g = min(1, boxes covering / this)
    centre_box_side: Fraction  # the centred-box baseline's side, as a fraction of the frame side
    auc_points: int = Field(ge=2, le=1001)  # success rate at t = 0, 1/(n-1), ..., 1
    overlays: int = Field(ge=0, le=256)
    batch_size: int = Field(ge=1, le=MAX_BATCH)


class LocalisationParams(Strict):
    scenes: LocScenesParams
    data: LocDataParams
    model: LocModelParams
    stage1: LocStageParams
    stage2: LocStage2Params
    evaluate: LocEvaluateParams
    pseudo_label_mapping: str  # urban-sound class -> category table (configs/), for unlabelled pairs
    pseudo_labels: LocPseudoLabelParams
