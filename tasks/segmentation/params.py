"""Parameters of semantic segmentation (workflow 1, first half): the ``seg`` section of params.yaml."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from soundflow.params_base import MAX_BATCH, MAX_EPOCHS, MAX_IMAGE_SIDE, MAX_WORKERS, Seed, Strict

ERFNET_STRIDE = 8  # ERFNet downsamples three times by 2: each side a multiple of 8 comes back at its size
# one side the network sees: a positive multiple of ERFNET_STRIDE up to MAX_IMAGE_SIDE
ImageSide = Annotated[int, Field(ge=ERFNET_STRIDE, le=MAX_IMAGE_SIDE, multiple_of=ERFNET_STRIDE)]


class SegDataParams(Strict):
    root: str
    # (height, width) the network sees; the paper's 512 x 1024. Not "size": DVC's run cache ignores that key
    image_size: tuple[ImageSide, ImageSide]


class SegTrainParams(Strict):
    epochs: int = Field(ge=1, le=MAX_EPOCHS)
    batch_size: int = Field(ge=1, le=MAX_BATCH)
    lr: float = Field(gt=0)
    weight_decay: float = Field(ge=0)
    poly_power: float = Field(gt=0)
    class_weight_c: float = Field(gt=1)  # w_c = 1 / ln(c + p_c)
    num_workers: int = Field(ge=0, le=MAX_WORKERS)
    device: Literal["auto", "cpu", "cuda"]
    seed: Seed


class SegPredictParams(Strict):
    images: str
    image_type: Literal["png", "jpg"]
    batch_size: int = Field(ge=1, le=MAX_BATCH)


class SegEvaluateParams(Strict):
    split: str = "test"  # the split seg_evaluate scores: held out (val chooses the best epoch in training)

    @field_validator("split")
    @classmethod
    def _folder_name(cls, v: str) -> str:
        if not v or v in (".", "..") or "/" in v or "\\" in v:
            raise ValueError(f"must be a split's folder name such as 'test' or 'val', got {v!r}")
        return v


class SegParams(Strict):
    data: SegDataParams
    train: SegTrainParams
    predict: SegPredictParams
    evaluate: SegEvaluateParams = SegEvaluateParams()
