"""Typed, validated parameters: the one schema of ``params.yaml``.

Every stage reads its parameters through :func:`load_params`, so a bad value is
reported once, before any work starts, with the dotted key that is wrong.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

PARAMS_FILE = "params.yaml"


class Strict(BaseModel):
    # Unknown keys are almost always typos of real ones; refuse them.
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_range(v: tuple[float, float]) -> tuple[float, float]:
    lo, hi = v
    if not 0 <= lo <= hi:
        raise ValueError(f"expected [low, high] with 0 <= low <= high, got {list(v)}")
    return v


class UrbanSynthParams(Strict):
    """Procedural urban-sound dataset (the offline default data)."""

    clips_per_class: int = Field(ge=1)
    n_folds: int = Field(ge=2, le=10)
    sample_rate: int = Field(ge=8000)
    duration: tuple[float, float]
    snr_db: tuple[float, float]
    seed: int = 0

    _duration = field_validator("duration")(_check_range)

    @field_validator("snr_db")
    @classmethod
    def _ordered(cls, v: tuple[float, float]) -> tuple[float, float]:
        if v[0] > v[1]:
            raise ValueError(f"expected [low, high] with low <= high, got {list(v)}")
        return v


class StreetScenesParams(Strict):
    """Procedural street scenes in the Cityscapes layout (the offline default for segmentation)."""

    n_train: int = Field(ge=1)
    n_val: int = Field(ge=1)
    n_test: int = Field(ge=0)
    height: int = Field(ge=32)
    width: int = Field(ge=32)
    seed: int = Field(ge=0)


class SoundLibraryParams(Strict):
    """Scaper sound library made from procedural sounds (foreground events, background ambiences)."""

    clips_per_label: int = Field(ge=1)
    sample_rate: int = Field(ge=8000)
    event_duration: tuple[float, float]
    background_duration: float = Field(gt=0)
    seed: int = Field(ge=0)

    _event_duration = field_validator("event_duration")(_check_range)


class DataParams(Strict):
    urban_synth: UrbanSynthParams
    street_scenes: StreetScenesParams
    sound_library: SoundLibraryParams


class AedDataParams(Strict):
    """Which labelled audio the classifier uses and how it is split."""

    root: str
    format: Literal["urbansound8k", "esc50"]
    test_folds: list[int] = Field(min_length=1)
    val_fraction: float = Field(gt=0, lt=1)
    max_bad_fraction: float = Field(ge=0, le=1)


class AedFeatureParams(Strict):
    """Magnitude-spectrogram chunks (spec section 2)."""

    sample_rate: int = Field(ge=8000)
    chunk_seconds: float = Field(gt=0)
    chunk_hop_seconds: float = Field(gt=0)
    min_last_chunk_seconds: float = Field(ge=0)
    window_seconds: float = Field(gt=0)
    frame_hop_seconds: float = Field(gt=0)
    n_freq_bins: int = Field(ge=8)
    n_frames: int = Field(ge=8)
    window: Literal["hann", "rect"]
    scale: Literal["linear", "log"]
    workers: int = Field(ge=0)

    @model_validator(mode="after")
    def _hop_fits(self) -> AedFeatureParams:
        if self.chunk_hop_seconds > self.chunk_seconds:
            raise ValueError("chunk_hop_seconds must not exceed chunk_seconds (chunks would skip audio)")
        if self.min_last_chunk_seconds > self.chunk_seconds:
            raise ValueError("min_last_chunk_seconds must not exceed chunk_seconds")
        return self


class AedModelParams(Strict):
    name: str
    width: int = Field(ge=1)
    dense: int = Field(ge=1)
    dropout: float = Field(ge=0, lt=1)


class AedTrainParams(Strict):
    epochs: int = Field(ge=1)
    batch_size: int = Field(ge=1)
    lr_start: float = Field(gt=0)
    lr_end: float = Field(gt=0)
    beta1: float = Field(ge=0, lt=1)
    seed: int
    roll_prob: float = Field(ge=0, le=1)
    roll_max_fraction: float = Field(ge=0, lt=1)
    max_batches_per_epoch: int = Field(ge=0)  # 0 = all
    device: Literal["auto", "cpu", "cuda"]
    num_workers: int = Field(ge=0)


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


class SegDataParams(Strict):
    root: str
    size: tuple[int, int]  # (height, width) the network sees; the spec's 512 x 1024

    @field_validator("size")
    @classmethod
    def _multiple_of_8(cls, v: tuple[int, int]) -> tuple[int, int]:
        if any(x < 8 or x % 8 for x in v):
            raise ValueError(f"ERFNet needs sides that are positive multiples of 8, got {list(v)}")
        return v


class SegTrainParams(Strict):
    epochs: int = Field(ge=1)
    batch_size: int = Field(ge=1)
    lr: float = Field(gt=0)
    weight_decay: float = Field(ge=0)
    poly_power: float = Field(gt=0)
    class_weight_c: float = Field(gt=1)  # w_c = 1 / ln(c + p_c)
    num_workers: int = Field(ge=0)
    device: Literal["auto", "cpu", "cuda"]
    seed: int


class SegPredictParams(Strict):
    images: str
    image_type: Literal["png", "jpg"]
    batch_size: int = Field(ge=1)


class SegParams(Strict):
    data: SegDataParams
    train: SegTrainParams
    predict: SegPredictParams


class SoundscapesParams(Strict):
    """Scaper soundscapes from segmentation output (workflow 1, second half)."""

    mapping: str  # class -> sound-library label file
    library: str  # Scaper layout: <library>/foreground/<label>/*.wav, <library>/background/<label>/*.wav
    synthesis: dict[str, Any]  # tasks.soundscapes.synthesis.SoundscapeParams fields

    @field_validator("synthesis")
    @classmethod
    def _valid_synthesis(cls, v: dict[str, Any]) -> dict[str, Any]:
        from tasks.soundscapes.synthesis import SoundscapeParams

        SoundscapeParams.from_dict(v)  # one schema, the dataclass's: raises ValueError naming the field
        return v


class TrackingParams(Strict):
    experiment: str = Field(min_length=1)


class Params(Strict):
    tracking: TrackingParams
    data: DataParams
    aed: AedParams
    seg: SegParams
    soundscapes: SoundscapesParams


class ParamsError(ValueError):
    """A params file that cannot be used; the message names the file, key and problem."""


def _format_errors(path: Path, err: ValidationError) -> str:
    lines = [f"{path}: {err.error_count()} invalid parameter(s)"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "<root>"
        got = e.get("input")
        shown = "" if isinstance(got, dict) else f" (got {got!r})"
        lines.append(f"  {key}: {e['msg']}{shown}")
    return "\n".join(lines)


def parse_params(raw: Any, source: Path) -> Params:
    try:
        return Params.model_validate(raw)
    except ValidationError as err:
        raise ParamsError(_format_errors(source, err)) from None


def read_params_yaml(path: Path) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ParamsError(f"{path}: parameters file not found") from None
    except yaml.YAMLError as err:
        raise ParamsError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: expected a mapping at the top level")
    return raw


def load_params(root: Path) -> Params:
    path = Path(root) / PARAMS_FILE
    return parse_params(read_params_yaml(path), path)


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"a": {"b": 1}}`` -> ``{"a.b": 1}``: how params reach MLflow."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def select(raw: dict[str, Any], dotted: str) -> Any:
    node: Any = raw
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(dotted)
        node = node[part]
    return node


def set_dotted(raw: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = raw
    for part in parts[:-1]:
        if not isinstance(node.get(part), dict):
            raise KeyError(f"{dotted}: {part!r} is not a section of params.yaml")
        node = node[part]
    if parts[-1] not in node:
        raise KeyError(f"{dotted}: no such parameter")
    node[parts[-1]] = value
