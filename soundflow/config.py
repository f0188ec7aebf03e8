"""Typed, validated parameters: the one schema of ``params.yaml``.

Every stage reads its parameters through :func:`load_params`, so a bad value is
reported once, before any work starts, with the dotted key that is wrong.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from soundflow.finite import non_finite_leaves

PARAMS_FILE = "params.yaml"
SECRET_ERROR = "secret_value"  # an error whose input must not be echoed back
NOT_FINITE = "must be a finite number"

# Upper bounds. Far above every real value (the spec's and the paper's numbers fit with room to spare),
# low enough that a typo such as a few extra zeros is refused here, before any work, rather than
# ending in a MemoryError or a run of days halfway down the DAG.
MAX_SAMPLE_RATE = 192_000  # Hz: the highest rate of studio audio hardware
MAX_CLIP_SECONDS = 600.0  # one generated clip or library sound: UrbanSound8K clips are <= 4 s, the spec's events 16 s
MAX_CHUNK_SECONDS = 60.0  # one network input (spec: 3 s chunks); also bounds the STFT window and hop
MAX_SPECTROGRAM_SIDE = 4096  # frequency bins or frames of one chunk (spec: 256 x 512)
MAX_IMAGE_SIDE = 4096  # pixels: Cityscapes is 1024 x 2048, and ERFNet's memory grows with the pixel count
MAX_CLIPS_PER_CLASS = 10_000  # UrbanSound8K has at most 1000 clips per class, ESC-50 40
MAX_IMAGES_PER_SPLIT = 100_000  # Cityscapes has 2975 training images
MAX_EPOCHS = 10_000  # the spec trains 55 (AED) and 70 (ERFNet) epochs
MAX_BATCH = 4096  # the spec's batches are 32 (AED) and 8 (ERFNet)
MAX_WORKERS = 256  # threads or processes on one machine
MAX_CNN_WIDTH = 1024  # aed.model.width: the paper's 64 already gives 1024 channels in the last conv
MAX_DENSE = 16_384  # aed.model.dense: the paper's 512


class Strict(BaseModel):
    # Unknown keys are almost always typos of real ones; refuse them. NaN and infinity are never a
    # parameter (an infinite learning rate trains on NaN losses): refused in every float field,
    # tuples and lists included; parse_params also checks the untyped mappings.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def _check_range(v: tuple[float, float]) -> tuple[float, float]:
    lo, hi = v
    if not 0 <= lo <= hi:
        raise ValueError(f"expected [low, high] with 0 <= low <= high, got {list(v)}")
    return v


def _check_seconds_range(v: tuple[float, float]) -> tuple[float, float]:
    _check_range(v)
    if v[1] > MAX_CLIP_SECONDS:
        raise ValueError(f"clips longer than {MAX_CLIP_SECONDS:g} s are not supported, got {list(v)}")
    return v


class UrbanSynthParams(Strict):
    """Procedural urban-sound dataset (the offline default data)."""

    clips_per_class: int = Field(ge=1, le=MAX_CLIPS_PER_CLASS)
    n_folds: int = Field(ge=2, le=10)
    sample_rate: int = Field(ge=8000, le=MAX_SAMPLE_RATE)
    duration: tuple[float, float]
    snr_db: tuple[float, float]
    seed: int = 0

    _duration = field_validator("duration")(_check_seconds_range)

    @field_validator("snr_db")
    @classmethod
    def _ordered(cls, v: tuple[float, float]) -> tuple[float, float]:
        if v[0] > v[1]:
            raise ValueError(f"expected [low, high] with low <= high, got {list(v)}")
        return v


class StreetScenesParams(Strict):
    """Procedural street scenes in the Cityscapes layout (the offline default for segmentation)."""

    n_train: int = Field(ge=1, le=MAX_IMAGES_PER_SPLIT)
    n_val: int = Field(ge=1, le=MAX_IMAGES_PER_SPLIT)
    n_test: int = Field(ge=0, le=MAX_IMAGES_PER_SPLIT)
    height: int = Field(ge=32, le=MAX_IMAGE_SIDE)
    width: int = Field(ge=32, le=MAX_IMAGE_SIDE)
    seed: int = Field(ge=0)


class SoundLibraryParams(Strict):
    """Scaper sound library made from procedural sounds (foreground events, background ambiences)."""

    clips_per_label: int = Field(ge=1, le=MAX_CLIPS_PER_CLASS)
    sample_rate: int = Field(ge=8000, le=MAX_SAMPLE_RATE)
    event_duration: tuple[float, float]
    background_duration: float = Field(gt=0, le=MAX_CLIP_SECONDS)
    seed: int = Field(ge=0)

    _event_duration = field_validator("event_duration")(_check_seconds_range)


class DownloadParams(Strict):
    """Registered datasets the ``datasets`` stage fetches into data/datasets (empty: the pipeline stays offline)."""

    datasets: list[str] = Field(default_factory=list)  # names of tasks.datasets.registry
    base_url: str | None = None  # a mirror: replaces scheme and host of every download and login URL

    @field_validator("datasets")
    @classmethod
    def _registered_once(cls, v: list[str]) -> list[str]:
        dupes = sorted({n for n in v if v.count(n) > 1})
        if dupes:
            raise ValueError(f"listed more than once: {', '.join(dupes)}")
        if v:  # the registry imports every corpus module: not worth it for the offline default
            from tasks.datasets.registry import available

            unknown = [n for n in v if n not in available()]
            if unknown:
                raise ValueError(f"unknown dataset(s) {', '.join(map(repr, unknown))}; known: {', '.join(available())}")
        return v

    @field_validator("base_url")
    @classmethod
    def _plain_http_url(cls, v: str | None) -> str | None:
        if v is None:
            return v
        u = urlsplit(v)
        if u.username or u.password:
            # params.yaml is committed and logged to MLflow; logins come from the environment
            raise PydanticCustomError(SECRET_ERROR, "must not carry credentials (the corpora's logins come from "
                                      "environment variables such as CITYSCAPES_USERNAME/CITYSCAPES_PASSWORD)")
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError("expected an http(s) URL such as https://mirror.example.org")
        return v


class DataParams(Strict):
    urban_synth: UrbanSynthParams
    street_scenes: StreetScenesParams
    sound_library: SoundLibraryParams
    download: DownloadParams


class AedDataParams(Strict):
    """Which labelled audio the classifier uses and how it is split."""

    root: str
    format: Literal["urbansound8k", "esc50"]
    test_folds: list[int] = Field(min_length=1)
    val_fraction: float = Field(gt=0, lt=1)
    max_bad_fraction: float = Field(ge=0, le=1)


class AedFeatureParams(Strict):
    """Magnitude-spectrogram chunks (spec section 2)."""

    sample_rate: int = Field(ge=8000, le=MAX_SAMPLE_RATE)
    chunk_seconds: float = Field(gt=0, le=MAX_CHUNK_SECONDS)
    chunk_hop_seconds: float = Field(gt=0)
    min_last_chunk_seconds: float = Field(ge=0)
    window_seconds: float = Field(gt=0, le=MAX_CHUNK_SECONDS)
    frame_hop_seconds: float = Field(gt=0, le=MAX_CHUNK_SECONDS)
    n_freq_bins: int = Field(ge=8, le=MAX_SPECTROGRAM_SIDE)
    n_frames: int = Field(ge=8, le=MAX_SPECTROGRAM_SIDE)
    window: Literal["hann", "rect"]
    scale: Literal["linear", "log"]
    workers: int = Field(ge=0, le=MAX_WORKERS)

    @model_validator(mode="after")
    def _hop_fits(self) -> AedFeatureParams:
        if self.chunk_hop_seconds > self.chunk_seconds:
            raise ValueError("chunk_hop_seconds must not exceed chunk_seconds (chunks would skip audio)")
        if self.min_last_chunk_seconds > self.chunk_seconds:
            raise ValueError("min_last_chunk_seconds must not exceed chunk_seconds")
        return self


class AedModelParams(Strict):
    name: str  # a classifier of the model registry (models/)
    width: int = Field(ge=1, le=MAX_CNN_WIDTH)
    dense: int = Field(ge=1, le=MAX_DENSE)
    dropout: float = Field(ge=0, lt=1)

    @field_validator("name")
    @classmethod
    def _registered_classifier(cls, v: str) -> str:
        import inspect

        import models  # torch: loaded anyway by the feature representations this file validates against

        if v not in models.available():
            raise ValueError(f"unknown model {v!r}; registered: {', '.join(models.available())}")
        # tasks.aed.train.build_model passes these: a registered network without them (erfnet) is no AED classifier
        wanted = {"n_classes", "input_shape", "width", "dense", "dropout"}
        missing = wanted - set(inspect.signature(models.get(v)).parameters)
        if missing:
            raise ValueError(f"model {v!r} is not an audio event classifier (it takes no {', '.join(sorted(missing))})")
        return v


class AedTrainParams(Strict):
    epochs: int = Field(ge=1, le=MAX_EPOCHS)
    batch_size: int = Field(ge=1, le=MAX_BATCH)
    lr_start: float = Field(gt=0)
    lr_end: float = Field(gt=0)
    beta1: float = Field(ge=0, lt=1)
    seed: int
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


class SegDataParams(Strict):
    root: str
    # (height, width) the network sees; the spec's 512 x 1024. Not "size": DVC's run cache ignores that key
    image_size: tuple[int, int]

    @field_validator("image_size")
    @classmethod
    def _multiple_of_8(cls, v: tuple[int, int]) -> tuple[int, int]:
        if any(x < 8 or x % 8 for x in v):
            raise ValueError(f"ERFNet needs sides that are positive multiples of 8, got {list(v)}")
        if max(v) > MAX_IMAGE_SIDE:
            raise ValueError(f"sides above {MAX_IMAGE_SIDE} pixels are not supported, got {list(v)}")
        return v


class SegTrainParams(Strict):
    epochs: int = Field(ge=1, le=MAX_EPOCHS)
    batch_size: int = Field(ge=1, le=MAX_BATCH)
    lr: float = Field(gt=0)
    weight_decay: float = Field(ge=0)
    poly_power: float = Field(gt=0)
    class_weight_c: float = Field(gt=1)  # w_c = 1 / ln(c + p_c)
    num_workers: int = Field(ge=0, le=MAX_WORKERS)
    device: Literal["auto", "cpu", "cuda"]
    seed: int


class SegPredictParams(Strict):
    images: str
    image_type: Literal["png", "jpg"]
    batch_size: int = Field(ge=1, le=MAX_BATCH)


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


class FeatureSetParams(Strict):
    dataset: str = Field(min_length=1)  # urban_synth | street_scenes | a name listed in data.download.datasets
    representation: str  # tasks.features.representations.NAMES

    @field_validator("representation")
    @classmethod
    def _known(cls, v: str) -> str:
        from tasks.features.representations import NAMES

        if v not in NAMES:
            raise ValueError(f"unknown representation {v!r}; known: {', '.join(NAMES)}")
        return v


FEATURE_SOURCES = ("urban_synth", "street_scenes")  # datasets the pipeline makes; others come from data.download


class FeatureParams(Strict):
    """HDF5 feature stores (tasks/features): one per (dataset, representation) set."""

    sets: list[FeatureSetParams]
    # crop/pad audio to this length; None keeps each length
    clip_seconds: float | None = Field(default=None, gt=0, le=MAX_CLIP_SECONDS)
    shard_size: int = Field(ge=1, le=100_000)  # inputs per HDF5 shard; a shard is read whole
    workers: int = Field(ge=1, le=MAX_WORKERS)  # reading threads (per shard task)
    device: Literal["auto", "cpu", "cuda"]
    max_bad_fraction: float = Field(ge=0, le=1)
    runner: Literal["local", "dask"]  # dask: Prefect's DaskTaskRunner, on $DASK_SCHEDULER_ADDRESS or a local cluster

    @field_validator("sets")
    @classmethod
    def _unique(cls, v: list[FeatureSetParams]) -> list[FeatureSetParams]:
        seen = [(s.dataset, s.representation) for s in v]
        dupes = sorted({f"{d}/{r}" for d, r in seen if seen.count((d, r)) > 1})
        if dupes:
            raise ValueError(f"listed more than once: {', '.join(dupes)}")
        return v


class TrackingParams(Strict):
    experiment: str = Field(min_length=1)


class Params(Strict):
    tracking: TrackingParams
    data: DataParams
    features: FeatureParams
    aed: AedParams
    seg: SegParams
    soundscapes: SoundscapesParams

    @model_validator(mode="after")
    def _feature_sources_exist(self) -> Params:
        for i, s in enumerate(self.features.sets):
            if s.dataset not in FEATURE_SOURCES and s.dataset not in self.data.download.datasets:
                raise ValueError(f"features.sets.{i}.dataset: {s.dataset!r} is neither one of {', '.join(FEATURE_SOURCES)} "
                                 f"nor listed in data.download.datasets ({self.data.download.datasets})")
        return self


class ParamsError(ValueError):
    """A params file that cannot be used; the message names the file, key and problem."""


def _error_lines(err: ValidationError, reported: set[str]) -> list[str]:
    lines = []
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "<root>"
        # a non-finite value is reported once, by its own key; errors it caused up or down the tree add nothing
        if any(key == k or key.startswith(k + ".") or k.startswith(key + ".") for k in reported):
            continue
        got = e.get("input")
        shown = "" if isinstance(got, dict) or e["type"] == SECRET_ERROR else f" (got {got!r})"
        msg = NOT_FINITE if e["type"] == "finite_number" else e["msg"]
        lines.append(f"  {key}: {msg}{shown}")
    return lines


def parse_params(raw: Any, source: Path) -> Params:
    # NaN/inf checked on the raw tree first: it also covers untyped mappings (soundscapes.synthesis)
    bad = non_finite_leaves(raw)
    lines = [f"  {key}: {NOT_FINITE} (got {value!r})" for key, value in bad]
    try:
        params = Params.model_validate(raw)
    except ValidationError as err:
        lines += _error_lines(err, {key for key, _ in bad})
    if lines:
        raise ParamsError("\n".join([f"{source}: {len(lines)} invalid parameter(s)", *lines]))
    return params


def read_params_yaml(path: Path) -> dict[str, Any]:
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ParamsError(f"{path}: parameters file not found") from None
    except yaml.YAMLError as err:
        raise ParamsError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: expected a mapping at the top level")
    refuse_dvc_hidden_keys(raw, path)
    return raw


# DVC drops keys with these exact names, at any depth, from a stage's run-cache key (treeverse/dvc#10296)
DVC_HIDDEN_KEYS = ("size", "nfiles")


def refuse_dvc_hidden_keys(raw: Any, path: Path, prefix: str = "") -> None:
    """Refuse a parameter DVC cannot see: changing it would serve a cached result made with the old value."""
    items = raw.items() if isinstance(raw, dict) else enumerate(raw) if isinstance(raw, list) else ()
    for key, value in items:
        dotted = f"{prefix}{key}"
        if key in DVC_HIDDEN_KEYS:
            raise ParamsError(f"{path}: {dotted}: no parameter may be named {key!r}: DVC leaves keys named "
                              f"{' or '.join(map(repr, DVC_HIDDEN_KEYS))} out of its run-cache key "
                              "(treeverse/dvc#10296), so a changed value would not rerun the stage; rename it "
                              "(e.g. image_size)")
        refuse_dvc_hidden_keys(value, path, dotted + ".")


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
