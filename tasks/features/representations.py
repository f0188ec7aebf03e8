"""The representations the feature store can hold, each one class with the same four steps.

=====================  ========  ==========================  ==========  ===============================
name                   input     item (one row of the store)  dtype       parameters
=====================  ========  ==========================  ==========  ===============================
``logmel_pann``        audio     one frame, (64,)             float16     :data:`logmel.PRESETS` ``pann``
``logmel_yamnet``      audio     one frame, (64,)             float16     ``yamnet``
``logmel_localisation`` audio    one frame, (64,)             float16     ``localisation``
``logmel_t2a``         audio     one frame, (64,)             float16     ``t2a``
``third_octave``       audio     one 125 ms frame, (29,)      float32     :class:`ThirdOctaveParams`
``stft_chunks``        audio     one chunk, (256, 512)        float16     ``aed.features``
``frames``             image     one frame, (256, 256, 3)     uint8       side 256
``audiovisual``        pair      one frame + per-pair arrays  uint8       :mod:`tasks.features.audiovisual`
=====================  ========  ==========================  ==========  ===============================

A representation ``read``s one file (decoding and resampling, or decoding and resizing: the CPU cost,
run in worker threads), ``fit``s it (crop/pad to a fixed length; or says why the input is unusable),
and ``compute``s a batch of fitted inputs into one ``(items, *item_shape)`` array per input, in torch
on the chosen device. ``describe()`` lists every parameter that changes the stored values: the store
keeps it in its attributes and refuses to open a file made with other ones.

float16 for log-mel and spectrogram chunks: dB or natural-log values (-100 .. +60 dB, -14 .. +10
nats) or values in [0, 1] have a float16 step of at most 0.03 dB / 0.004 nats / 5e-4, far below any
recording's noise; it halves the disk and the read bandwidth of every epoch. Third-octave levels stay
float32 because the transcoder regresses them directly and they are small (29 values per 125 ms).
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from dataclasses import asdict
from typing import Any, ClassVar

import numpy as np
import torch

from soundflow.audio import load_audio
from tasks.features.frames import load_image, resize_frames
from tasks.features.logmel import PRESETS, LogMel, LogMelParams, frame_samples, n_frames
from tasks.features.params import AedFeatureParams
from tasks.features.stft_chunks import spectrogram_chunks
from tasks.features.third_octave import ThirdOctave, ThirdOctaveParams


def fit_length(wave: np.ndarray, n: int) -> np.ndarray:
    """``wave`` cropped or zero-padded at its end to ``n`` samples."""
    if len(wave) >= n:
        return wave[:n]
    return np.pad(wave, (0, n - len(wave)))


class Representation(ABC):
    name: ClassVar[str]
    item_shape: tuple[int, ...]
    dtype: ClassVar[np.dtype]

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """Every parameter that changes the stored values (JSON-able)."""

    @abstractmethod
    def read(self, path: str | os.PathLike[str]) -> np.ndarray:
        """Decode one file; raises an InputError (AudioError, ImageError) naming the file and the problem."""

    def fit(self, x: np.ndarray) -> np.ndarray | str:
        """The input ready for :meth:`compute`, or the reason it cannot be used."""
        return x

    @abstractmethod
    def compute(self, xs: list[np.ndarray], device: torch.device) -> list[np.ndarray]:
        """One ``(items, *item_shape)`` array of ``dtype`` per fitted input."""

    @property
    def hdf5_chunk_items(self) -> int:
        """Items per HDF5 chunk: about 256 KB per chunk, so one clip or one chunk is one read."""
        item_bytes = int(np.prod(self.item_shape)) * np.dtype(self.dtype).itemsize
        return max(1, (256 * 1024) // item_bytes)


# Samples per batch on the CPU: a batch's frames and spectra (8 bytes per sample and frame overlap each) stay
# in the cache up to about 2 MB. PANN log-mel of 5 s clips, 2 threads: 1.6 ms per clip one by one, 2.1 in
# batches of 8 (its 32 MB of temporaries go to memory); a GPU takes the whole batch at once
CPU_BATCH_SAMPLES = 1 << 18
_TORCH_DTYPES = {np.dtype(np.float16): torch.float16, np.dtype(np.float32): torch.float32}


class _Waveforms(Representation):
    """Audio representations computed on (batch, samples) waveforms padded to the longest clip."""

    sample_rate: int
    clip_seconds: float | None

    def read(self, path: str | os.PathLike[str]) -> np.ndarray:
        return load_audio(path, self.sample_rate)

    def fit(self, x: np.ndarray) -> np.ndarray | str:
        if self.clip_seconds is not None:
            x = fit_length(x, round(self.clip_seconds * self.sample_rate))
        return self.too_short(len(x)) or x

    def too_short(self, n: int) -> str | None:
        return None

    @abstractmethod
    def frames(self, n: int) -> int: ...

    @abstractmethod
    def make_module(self) -> torch.nn.Module: ...

    def module(self, device: torch.device) -> torch.nn.Module:
        """The transform on ``device``, built once per device (its filterbank and window are buffers)."""
        cache = self.__dict__.setdefault("_modules", {})
        if str(device) not in cache:
            cache[str(device)] = self.make_module().to(device)
        return cache[str(device)]

    def batchable(self, xs: list[np.ndarray]) -> bool:
        """Whether zero-padding the shorter clips of a batch leaves their own frames unchanged."""
        return True

    def compute(self, xs: list[np.ndarray], device: torch.device) -> list[np.ndarray]:
        if not self.batchable(xs):
            return [self.compute([x], device)[0] for x in xs]
        longest = max(len(x) for x in xs)
        per_batch = max(1, CPU_BATCH_SAMPLES // max(1, longest))
        if device.type == "cpu" and len(xs) > per_batch:
            return [y for i in range(0, len(xs), per_batch) for y in self.compute(xs[i : i + per_batch], device)]
        # one clip (on the CPU, any clip over half of CPU_BATCH_SAMPLES) is used as it is: np.stack would copy it
        waves = xs[0][None] if len(xs) == 1 else np.stack([fit_length(x, longest) for x in xs])
        batch = torch.from_numpy(waves).to(device)
        with torch.inference_mode():
            # cast to the stored dtype in torch, on the whole batch: numpy's float16 cast of each clip cost
            # 15 times more on the CPU (the same round-to-nearest-even values, bit for bit), and on a GPU
            # only the float16 values cross to the host
            out = self.module(device)(batch).float().to(_TORCH_DTYPES[self.dtype]).cpu().numpy()
        return [out[i, : self.frames(len(x))] for i, x in enumerate(xs)]


class LogMelFeatures(_Waveforms):
    """Log-mel frames (:mod:`tasks.features.logmel`); ragged clips unless ``clip_seconds`` is set.

    Zero-padding a clip at its end leaves its own frames unchanged (centred frames are zero-padded
    anyway with ``pad_mode="constant"``; uncentred frames never reach past the clip), so clips of
    different lengths share one batch; with reflect padding each clip goes alone.
    """

    dtype = np.dtype(np.float16)

    def __init__(self, params: LogMelParams, clip_seconds: float | None = None, name: str = "logmel") -> None:
        self.params, self.clip_seconds, self.name = params, clip_seconds, name
        self.sample_rate = params.sample_rate
        self.item_shape = (params.n_mels,)

    def describe(self) -> dict[str, Any]:
        params = asdict(self.params)
        if params["frontend"] == "librosa":
            del params["frontend"]  # the default: the stores made before the field existed keep their hash
        return {
            "representation": "logmel",
            **params,
            "clip_seconds": self.clip_seconds,
            "dtype": self.dtype.name,
        }

    def too_short(self, n: int) -> str | None:
        p = self.params
        if not p.center and n < frame_samples(p):
            return f"too short: {n} samples < one frame of {frame_samples(p)} (center=False)"
        if p.center and p.pad_mode == "reflect" and n <= p.n_fft // 2:
            return f"too short for reflect padding: {n} samples"
        return None

    def frames(self, n: int) -> int:
        return n_frames(self.params, n)

    def make_module(self) -> torch.nn.Module:
        return LogMel(self.params)

    def batchable(self, xs: list[np.ndarray]) -> bool:
        p = self.params
        return not (p.center and p.pad_mode == "reflect" and len({len(x) for x in xs}) > 1)


class RepeatPaddedLogMel(LogMelFeatures):
    """Log-mel frames of clips repeat-padded (tiled) or cropped to exactly ``clip_seconds``.

    Ronchini et al. (DCASE 2024) repeat a short clip until it fills 4 s instead of padding it with
    silence: a 1 s dog bark then covers the whole input as the longer clips do.
    """

    def __init__(self, params: LogMelParams, clip_seconds: float, name: str = "logmel") -> None:
        super().__init__(params, clip_seconds, name=name)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "pad": "repeat"}

    def fit(self, x: np.ndarray) -> np.ndarray | str:
        n = round(self.clip_seconds * self.sample_rate)
        if len(x) == 0:
            return "empty clip"
        return self.too_short(n) or np.tile(x, -(-n // len(x)))[:n]


class ThirdOctaveFeatures(_Waveforms):
    """Third-octave levels in dB, 29 bands every 125 ms (:mod:`tasks.features.third_octave`).

    Frames only see zeros past a clip's end in either case (the last frame is zero-padded), so clips
    of different lengths batch exactly.
    """

    name = "third_octave"
    dtype = np.dtype(np.float32)

    def __init__(self, params: ThirdOctaveParams = ThirdOctaveParams(), clip_seconds: float | None = None) -> None:
        self.params, self.clip_seconds = params, clip_seconds
        self.sample_rate = params.sample_rate
        self.item_shape = (params.n_bands,)

    def describe(self) -> dict[str, Any]:
        return {
            "representation": "third_octave",
            **asdict(self.params),
            "clip_seconds": self.clip_seconds,
            "dtype": self.dtype.name,
        }

    def frames(self, n: int) -> int:
        return max(1, n // self.params.hop)

    def make_module(self) -> torch.nn.Module:
        return ThirdOctave(self.params)


class StftChunkFeatures(Representation):
    """The AED's normalised magnitude-spectrogram chunks (:mod:`tasks.features.stft_chunks`), one item per chunk."""

    name = "stft_chunks"
    dtype = np.dtype(np.float16)

    def __init__(self, params: AedFeatureParams) -> None:
        self.params = params
        self.item_shape = (params.n_freq_bins, params.n_frames)

    def describe(self) -> dict[str, Any]:
        keep = {k: v for k, v in self.params.model_dump(mode="json").items() if k != "workers"}
        return {"representation": "stft_chunks", **keep, "dtype": self.dtype.name}

    def read(self, path: str | os.PathLike[str]) -> np.ndarray:
        return load_audio(path, self.params.sample_rate)

    def compute(self, xs: list[np.ndarray], device: torch.device) -> list[np.ndarray]:
        return [spectrogram_chunks(x, self.params.sample_rate, self.params)[0].astype(self.dtype) for x in xs]

    @property
    def hdf5_chunk_items(self) -> int:
        return 1  # training reads random single chunks


class FrameFeatures(Representation):
    """Image frames resized to ``size`` x ``size`` RGB uint8 (:mod:`tasks.features.frames`), one per file."""

    name = "frames"
    dtype = np.dtype(np.uint8)

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self.item_shape = (size, size, 3)

    def describe(self) -> dict[str, Any]:
        return {
            "representation": "frames",
            "size": self.size,
            "resize": "PIL bilinear, aspect not kept",
            "dtype": self.dtype.name,
        }

    def read(self, path: str | os.PathLike[str]) -> np.ndarray:
        return load_image(path)

    def fit(self, x: np.ndarray) -> np.ndarray | str:
        # resized in the reading thread: PIL releases the GIL, so frames resize in parallel
        return resize_frames(x[None], self.size)[0]

    def compute(self, xs: list[np.ndarray], device: torch.device) -> list[np.ndarray]:
        return [x[None] for x in xs]

    @property
    def hdf5_chunk_items(self) -> int:
        return 1


NAMES: tuple[str, ...] = tuple(f"logmel_{p}" for p in PRESETS) + ("third_octave", "stft_chunks", "frames")
IMAGE_NAMES = frozenset({"frames"})


def make_representation(
    name: str, *, clip_seconds: float | None = None, aed_features: AedFeatureParams | None = None
) -> Representation:
    """The representation called ``name`` (one of :data:`NAMES`)."""
    if name.startswith("logmel_") and name[len("logmel_") :] in PRESETS:
        return LogMelFeatures(PRESETS[name[len("logmel_") :]], clip_seconds, name=name)
    if name == "third_octave":
        return ThirdOctaveFeatures(ThirdOctaveParams(), clip_seconds)
    if name == "stft_chunks":
        if aed_features is None:
            raise ValueError("stft_chunks needs the AED feature parameters (aed.features)")
        return StftChunkFeatures(aed_features)
    if name == "frames":
        return FrameFeatures()
    raise ValueError(f"unknown representation {name!r}; known: {', '.join(NAMES)}")
