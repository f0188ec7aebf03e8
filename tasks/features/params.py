"""Parameters of the feature front-ends: the AED's spectrogram chunks (``aed.features``) and the feature
stores of the ``features`` stage (``features``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from soundflow.params_base import MAX_CLIP_SECONDS, MAX_WORKERS, SampleRate, Strict

MAX_CHUNK_SECONDS = 60.0  # one network input (the AED's 3 s chunks); also bounds the STFT window and hop
MAX_SPECTROGRAM_SIDE = 4096  # frequency bins or frames of one chunk (the AED's 256 x 512)
MAX_SHARD_SIZE = 100_000  # inputs per HDF5 shard; a shard is read whole


class AedFeatureParams(Strict):
    """Magnitude-spectrogram chunks (docs/methods.md#spectrogram-chunks): ``stft_chunks``, ``aed.features``."""

    sample_rate: SampleRate
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


# tasks.features.representations.NAMES, spelled out: that module imports torch, scipy and librosa, and every
# stage validates params.yaml before its work (a test keeps the two equal)
REPRESENTATION_NAMES: tuple[str, ...] = (
    "logmel_pann",
    "logmel_yamnet",
    "logmel_localisation",
    "logmel_t2a",
    "third_octave",
    "stft_chunks",
    "frames",
)


class FeatureSetParams(Strict):
    dataset: str = Field(min_length=1)  # urban_synth | street_scenes | a name listed in data.download.datasets
    representation: str  # one of REPRESENTATION_NAMES

    @field_validator("representation")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in REPRESENTATION_NAMES:
            raise ValueError(f"unknown representation {v!r}; known: {', '.join(REPRESENTATION_NAMES)}")
        return v


class FeatureParams(Strict):
    """HDF5 feature stores (tasks/features): one per (dataset, representation) set."""

    sets: list[FeatureSetParams]
    # crop/pad audio to this length; None keeps each length
    clip_seconds: float | None = Field(default=None, gt=0, le=MAX_CLIP_SECONDS)
    shard_size: int = Field(ge=1, le=MAX_SHARD_SIZE)  # inputs per HDF5 shard; a shard is read whole
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
