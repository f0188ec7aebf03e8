"""Spectrogram chunks of labelled audio into one HDF5 file (spec section 2).

The chunking and the spectrogram are :mod:`tasks.features.stft_chunks`; this module reads the
clips, skips unreadable ones and writes the chunks with their file/label index.
"""

from __future__ import annotations

import json
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
from tqdm import tqdm

from soundflow import __version__
from soundflow.audio import AudioError, load_audio
from soundflow.config import AedFeatureParams
from soundflow.io import atomic_path, write_json
from tasks.datasets.labelled_audio import class_names
from tasks.features.stft_chunks import spectrogram_chunks

FORMAT = "soundflow.aed_chunks/1"


@dataclass(frozen=True)
class ExtractionReport:
    h5: Path
    summary: Path
    skipped: Path
    n_files: int
    n_chunks: int
    n_skipped: int


def _load(path: str, sr: int) -> np.ndarray | AudioError:
    try:
        return load_audio(path, sr)
    except AudioError as err:
        return err


def _bounded_map(pool: ThreadPoolExecutor, fn, paths: list[str], sr: int, ahead: int = 32):
    """``pool.map`` that decodes at most ``ahead`` files beyond the one being consumed (bounded memory)."""
    futures: deque = deque()
    for path in paths:
        futures.append(pool.submit(fn, path, sr))
        if len(futures) > ahead:
            yield futures.popleft().result()
    while futures:
        yield futures.popleft().result()


def extract_chunks(
    table: pd.DataFrame,
    out_h5: Path,
    summary_json: Path,
    skipped_csv: Path,
    p: AedFeatureParams,
    max_bad_fraction: float,
    progress: bool = True,
) -> ExtractionReport:
    """Spectrogram chunks of every clip of ``table`` (rows ``path, label, class, fold``) into ``out_h5``.

    Undecodable, empty or non-finite clips are skipped and listed in ``skipped_csv``;
    the stage fails only if more than ``max_bad_fraction`` of the clips are bad.
    """
    if len(table) == 0:
        raise ValueError("no clips to extract: the dataset table is empty")
    sr, F_, T = p.sample_rate, p.n_freq_bins, p.n_frames
    classes = class_names(table)
    skipped: list[dict[str, str]] = []
    files: list[dict[str, object]] = []
    workers = p.workers or None  # 0 = one thread per core
    out_h5 = Path(out_h5)
    with atomic_path(out_h5) as tmp, h5py.File(tmp, "w") as h5, ThreadPoolExecutor(workers) as pool:
        spec = h5.create_dataset(
            "spectrograms", shape=(0, F_, T), maxshape=(None, F_, T), dtype="float16", chunks=(1, F_, T)
        )
        chunk_file, chunk_start, chunk_label = [], [], []
        # decoding and resampling dominate the cost and release the GIL, so threads overlap them
        decoded = _bounded_map(pool, _load, list(table["path"]), sr)
        for row, audio in tqdm(zip(table.itertuples(), decoded), total=len(table), desc="aed chunks", disable=not progress):
            if isinstance(audio, AudioError):
                skipped.append({"path": row.path, "reason": audio.problem})
                continue
            chunks, starts = spectrogram_chunks(audio, sr, p)
            n0 = spec.shape[0]
            spec.resize(n0 + len(chunks), axis=0)
            spec[n0:] = chunks.astype(np.float16)
            chunk_file += [len(files)] * len(chunks)
            chunk_start += list(starts)
            chunk_label += [row.label] * len(chunks)
            files.append({"path": row.path, "label": row.label, "fold": row.fold, "duration": len(audio) / sr,
                          "n_chunks": len(chunks)})
        bad = len(skipped) / len(table)
        if bad > max_bad_fraction:
            raise RuntimeError(
                f"{len(skipped)} of {len(table)} clips unreadable ({bad:.1%} > max_bad_fraction "
                f"{max_bad_fraction:.1%}); first: {skipped[0]['path']}: {skipped[0]['reason']}"
            )
        if not files:
            raise RuntimeError("no readable clips")
        h5.create_dataset("chunk_file", data=np.asarray(chunk_file, dtype=np.int32))
        h5.create_dataset("chunk_start", data=np.asarray(chunk_start, dtype=np.float32))
        h5.create_dataset("chunk_label", data=np.asarray(chunk_label, dtype=np.int16))
        fgroup = h5.create_group("files")
        fgroup.create_dataset("path", data=np.asarray([str(f["path"]) for f in files], dtype=object),
                              dtype=h5py.string_dtype())
        for key, dtype in (("label", np.int16), ("fold", np.int16), ("duration", np.float32), ("n_chunks", np.int32)):
            fgroup.create_dataset(key, data=np.asarray([f[key] for f in files], dtype=dtype))
        h5.create_dataset("classes", data=np.asarray(classes, dtype=object), dtype=h5py.string_dtype())
        h5.attrs["format"] = FORMAT
        h5.attrs["params"] = json.dumps(p.model_dump(), sort_keys=True)
        h5.attrs["soundflow_version"] = __version__
        h5.attrs["layout"] = "spectrograms[chunk, freq (row 0 = lowest), time], min-max normalised per chunk"
    skipped_csv = Path(skipped_csv)
    with atomic_path(skipped_csv) as tmp:
        pd.DataFrame(skipped, columns=["path", "reason"]).to_csv(tmp, index=False)
    summary = {
        "n_files": len(files), "n_chunks": len(chunk_label), "n_skipped": len(skipped),
        "skipped_fraction": bad, "n_classes": len(classes),
        "audio_seconds": float(sum(float(f["duration"]) for f in files)),  # type: ignore[arg-type]
    }
    write_json(summary_json, summary)
    return ExtractionReport(out_h5, Path(summary_json), skipped_csv, len(files), len(chunk_label), len(skipped))


@dataclass(frozen=True)
class ChunkIndex:
    """The index part of a chunk file, read into memory (the spectrograms stay on disk)."""

    classes: list[str]
    params: dict[str, object]
    chunk_file: np.ndarray
    chunk_label: np.ndarray
    file_path: np.ndarray
    file_label: np.ndarray
    file_fold: np.ndarray

    @property
    def input_shape(self) -> tuple[int, int]:
        return int(self.params["n_freq_bins"]), int(self.params["n_frames"])  # type: ignore[call-overload]


def read_index(h5_path: Path) -> ChunkIndex:
    with h5py.File(h5_path, "r") as h5:
        if h5.attrs.get("format") != FORMAT:
            raise ValueError(f"{h5_path}: not a soundflow AED chunk file (format {h5.attrs.get('format')!r})")
        return ChunkIndex(
            classes=[c.decode() if isinstance(c, bytes) else str(c) for c in h5["classes"][:]],
            params=json.loads(h5.attrs["params"]),
            chunk_file=h5["chunk_file"][:],
            chunk_label=h5["chunk_label"][:].astype(np.int64),
            file_path=np.asarray([s.decode() if isinstance(s, bytes) else s for s in h5["files/path"][:]]),
            file_label=h5["files/label"][:].astype(np.int64),
            file_fold=h5["files/fold"][:].astype(np.int64),
        )
