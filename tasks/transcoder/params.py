"""Parameters of spectral transcoding (workflow 4, Tailleur et al., DCASE 2023): the ``transcoder`` section."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from soundflow.params_base import MAX_BATCH, MAX_CLIP_SECONDS, MAX_EPOCHS, SampleRate, Seed, Strict, ordered

MAX_SOUNDSCAPES = 100_000
MAX_CHANNELS = 1024  # transcoder CNN channels; the paper's 64
MAX_TEACHER_WIDTH = 256  # CNN14/ResNet38 first-block channels; the paper's 64
TEACHERS = ("pann_cnn14", "pann_resnet38", "yamnet")

Positive = Annotated[float, Field(gt=0, le=MAX_CLIP_SECONDS)]
Db = Annotated[float, Field(ge=-60, le=60)]


class TranscoderDataParams(Strict):
    """Where the paired third-octave / Mel chunks come from (offline: Scaper soundscapes of procedural sounds)."""

    soundscapes: int = Field(ge=8, le=MAX_SOUNDSCAPES)
    soundscape_seconds: float = Field(ge=1, le=MAX_CLIP_SECONDS)
    events: tuple[Annotated[int, Field(ge=0, le=50)], Annotated[int, Field(ge=0, le=50)]]
    event_duration: tuple[Positive, Positive]
    snr: tuple[Db, Db]
    library_clips_per_class: int = Field(ge=1, le=1000)
    library_event_seconds: float = Field(ge=0.5, le=MAX_CLIP_SECONDS)
    library_sample_rate: SampleRate  # the procedural clips' rate, so both sources share their band limit
    min_event_overlap: float = Field(ge=0, le=1)  # seconds of an event inside a 1 s chunk for its label
    train_source: str = Field(min_length=1)  # soundscapes | a listed dataset (the paper: tau2020_mobile)
    multilabel_source: str = Field(min_length=1)  # soundscapes | sonyc_ust
    singlelabel_source: str = Field(min_length=1)  # urban_synth | urbansound8k
    # null: clips as they are (a clip under 1 s then gives no chunk); UrbanSound8K: 4.0
    singlelabel_clip_seconds: Annotated[float, Field(ge=1, le=MAX_CLIP_SECONDS)] | None
    val_fraction: float = Field(gt=0, lt=0.5)  # of the clips, split by clip (paper: 75 / 12.5 / 12.5 %)
    test_fraction: float = Field(gt=0, lt=0.5)
    max_bad_fraction: float = Field(ge=0, le=1)
    seed: Seed
    # local: the soundscapes one after another in this process; dask: one Prefect task per group of
    # soundscapes on Prefect's DaskTaskRunner, on $DASK_SCHEDULER_ADDRESS or a local cluster (the same files)
    runner: Literal["local", "dask"]

    _ordered = field_validator("events", "event_duration", "snr")(ordered)


class TeacherParams(Strict):
    name: Literal["pann_cnn14", "pann_resnet38", "yamnet"]
    checkpoint: str | None  # an official checkpoint file; null: the pipeline trains the teacher
    class_names: str | None  # CSV (index, mid, display_name) of the checkpoint's classes, for the grouping head
    width: int = Field(ge=1, le=MAX_TEACHER_WIDTH)
    epochs: int = Field(ge=1, le=MAX_EPOCHS)
    batch_size: int = Field(ge=1, le=MAX_BATCH)
    lr: float = Field(gt=0, le=1)


class TranscoderTrainParams(Strict):
    channels: int = Field(ge=1, le=MAX_CHANNELS)
    layers: int = Field(ge=2, le=32)
    kernel: tuple[Annotated[int, Field(ge=1, le=31)], Annotated[int, Field(ge=1, le=31)]]
    epochs: int = Field(ge=1, le=MAX_EPOCHS)
    batch_size: int = Field(ge=1, le=MAX_BATCH)
    lr: float = Field(gt=0, le=1)

    @field_validator("kernel")
    @classmethod
    def _odd(cls, v: tuple[int, int]) -> tuple[int, int]:
        if v[0] % 2 == 0 or v[1] % 2 == 0:
            raise ValueError(f"kernel must be odd in both axes, got {list(v)}")
        return v


class HeadParams(Strict):
    hidden: int = Field(ge=1, le=100_000)
    epochs: int = Field(ge=1, le=MAX_EPOCHS)
    batch_size: int = Field(ge=1, le=MAX_BATCH)
    lr: float = Field(gt=0, le=1)
    # mel: each head is trained on the teacher's outputs on the true Mel (the classifier as built on Mel data)
    # and fed those of each input; own: each input's head is trained on that input's outputs
    train_input: Literal["own", "mel"]
    grouping: str = Field(min_length=1)  # YAML: teacher class -> target class (the grouping head)


class TranscoderAudioParams(Strict):
    clips: int = Field(ge=1, le=1000)
    n_iter: int = Field(ge=1, le=10_000)  # Griffin-Lim iterations (librosa's default: 32)


class TranscoderParams(Strict):
    data: TranscoderDataParams
    teacher: TeacherParams
    train: TranscoderTrainParams
    heads: HeadParams
    audio: TranscoderAudioParams
    seed: Seed
    device: Literal["auto", "cpu", "cuda"]
