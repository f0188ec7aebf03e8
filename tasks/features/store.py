"""A sharded, resumable HDF5 store of log-mel spectrograms.

Layout of ``out_dir``::

    shard-00000.h5   rows 0 .. shard_size-1 of the table (in table order), written atomically
    shard-00001.h5   ...
    skipped.csv      path, reason of every unreadable clip (merged over shards)
    manifest.json    written last: the store is complete only when it exists

Each shard holds ``features`` (all readable clips' frames concatenated, (total_frames, n_mels)),
``index`` ((clips, 2) int64 start/stop frame of each clip), ``label``, ``fold``, ``path``, ``row`` (row
of the clip in the table given to :func:`extract_logmel`) and ``skipped_path``/``skipped_reason``.
Fixed-length clips (``clip_seconds``) use the same layout, every clip then has the same frame count.

Features are stored as **float16**: log-mel values are dB (-100 .. ~+60) or natural logs (-14 .. ~+10),
for which float16's 11-bit mantissa gives a step of at most 0.03 dB / 0.004 nats -- far below the
noise of any recording and of the model's own float32 rounding after a network layer -- while halving
disk space and read bandwidth (the store is read every epoch). The original values are recomputed
exactly from the audio if ever needed.

Attributes of each shard: ``params`` (JSON of every extraction parameter), ``params_hash`` (sha256 of
that JSON), ``rows_hash`` (sha256 of the shard's path/label/fold rows), ``soundflow_version`` and
``format``. A rerun keeps a shard whose file has the same ``params_hash`` and ``rows_hash`` (so a killed
run resumes after the last finished shard) and recomputes any other.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from soundflow import __version__
from soundflow.audio import AudioError, load_audio
from soundflow.io import atomic_path, write_json
from tasks.features.logmel import LogMel, LogMelParams, n_frames

FORMAT = "soundflow.logmel_store/1"
FEATURE_DTYPE = np.float16
MANIFEST = "manifest.json"
SKIPPED = "skipped.csv"
BATCH_CLIPS = 16  # clips per LogMel call


def shard_name(i: int) -> str:
    return f"shard-{i:05d}.h5"


def extraction_params(params: LogMelParams, clip_seconds: float | None) -> dict[str, Any]:
    """Every parameter that changes the stored features (what ``params_hash`` covers)."""
    return {**asdict(params), "clip_seconds": None if clip_seconds is None else float(clip_seconds),
            "features_dtype": np.dtype(FEATURE_DTYPE).name, "format": FORMAT}


def _hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def _rows_hash(rows: pd.DataFrame) -> str:
    return _hash([[str(p), str(lab), str(f)] for p, lab, f in zip(rows["path"], rows["label"], rows["fold"])])


# ------------------------------------------------------------------------------------------------ decoding


def _load(path: str, sr: int) -> np.ndarray | AudioError:
    try:
        return load_audio(path, sr)
    except AudioError as err:
        return err


def _bounded_map(pool: ThreadPoolExecutor, paths: list[str], sr: int, ahead: int) -> Iterator[np.ndarray | AudioError]:
    """Decode ``paths`` in order with at most ``ahead`` files decoded beyond the one consumed (bounded memory)."""
    futures: deque = deque()
    try:
        for path in paths:
            futures.append(pool.submit(_load, path, sr))
            if len(futures) > ahead:
                yield futures.popleft().result()
        while futures:
            yield futures.popleft().result()
    finally:
        for fut in futures:
            fut.cancel()


def _fit(wave: np.ndarray, n: int) -> np.ndarray:
    if len(wave) >= n:
        return wave[:n]
    return np.pad(wave, (0, n - len(wave)))


def _logmel_batch(logmel: LogMel, waves: list[np.ndarray]) -> list[np.ndarray]:
    """Log-mel of several clips, (frames_i, n_mels) each, identical to ``logmel`` applied to each clip alone.

    Zero-padding a clip at its end leaves its own frames unchanged (centred frames are zero-padded
    anyway with ``pad_mode="constant"``; uncentred frames never reach past the clip), so clips of
    different lengths share one batch; with reflect padding each clip goes alone.
    """
    p = logmel.params
    frames = [n_frames(p, len(w)) for w in waves]
    if p.center and p.pad_mode == "reflect" and len({len(w) for w in waves}) > 1:
        return [_logmel_batch(logmel, [w])[0] for w in waves]
    longest = max(len(w) for w in waves)
    batch = torch.from_numpy(np.stack([_fit(w, longest) for w in waves]))
    with torch.inference_mode():
        out = logmel(batch).numpy()
    return [out[i, :f] for i, f in enumerate(frames)]


def _check_length(p: LogMelParams, n: int) -> str | None:
    """Why a clip of ``n`` samples cannot give a spectrogram, or None."""
    if not p.center and n < p.n_fft:
        return f"too short: {n} samples < n_fft={p.n_fft} (center=False)"
    if p.center and p.pad_mode == "reflect" and n <= p.n_fft // 2:
        return f"too short for reflect padding: {n} samples"
    return None


# ------------------------------------------------------------------------------------------------ writing


def _label_array(values: pd.Series) -> np.ndarray:
    if pd.api.types.is_integer_dtype(values) or pd.api.types.is_bool_dtype(values):
        return values.to_numpy(dtype=np.int64)
    return np.asarray([str(v) for v in values], dtype=object)


def _write_shard(path: Path, shard_index: int, payload: dict[str, Any], attrs: dict[str, Any]) -> None:
    """Write one shard file atomically (temp sibling + rename)."""
    str_dt = h5py.string_dtype()
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as h5:
        h5.create_dataset("features", data=payload["features"], chunks=True if len(payload["features"]) else None)
        h5.create_dataset("index", data=payload["index"])
        h5.create_dataset("row", data=payload["row"])
        for key in ("label", "fold"):
            arr = payload[key]
            h5.create_dataset(key, data=arr, dtype=str_dt if arr.dtype == object else arr.dtype)
        for key in ("path", "skipped_path", "skipped_reason"):
            h5.create_dataset(key, data=np.asarray(payload[key], dtype=object), dtype=str_dt)
        for key, value in attrs.items():
            h5.attrs[key] = value
        h5.attrs["shard"] = shard_index


def _read_attrs(path: Path) -> dict[str, Any] | None:
    try:
        with h5py.File(path, "r") as h5:
            return dict(h5.attrs)
    except (OSError, KeyError):
        return None


def _read_skipped(path: Path) -> list[dict[str, str]]:
    with h5py.File(path, "r") as h5:
        return [{"path": p.decode() if isinstance(p, bytes) else p, "reason": r.decode() if isinstance(r, bytes) else r}
                for p, r in zip(h5["skipped_path"][:], h5["skipped_reason"][:])]


def _extract_shard(rows: pd.DataFrame, first_row: int, logmel: LogMel, clip_seconds: float | None,
                   pool: ThreadPoolExecutor, ahead: int, bar: tqdm) -> dict[str, Any]:
    p = logmel.params
    clip_len = None if clip_seconds is None else round(clip_seconds * p.sample_rate)
    feats: list[np.ndarray] = []
    kept: list[int] = []
    skipped: list[tuple[str, str]] = []
    pending: list[tuple[int, np.ndarray]] = []

    def flush() -> None:
        if pending:
            for (i, _), f in zip(pending, _logmel_batch(logmel, [w for _, w in pending])):
                feats.append(f.astype(FEATURE_DTYPE))
                kept.append(i)
            pending.clear()

    paths = [str(x) for x in rows["path"]]
    for i, audio in enumerate(_bounded_map(pool, paths, p.sample_rate, ahead)):
        bar.update(1)
        if isinstance(audio, AudioError):
            skipped.append((paths[i], audio.problem))
            continue
        if clip_len is not None:
            audio = _fit(audio, clip_len)
        why = _check_length(p, len(audio))
        if why:
            skipped.append((paths[i], why))
            continue
        pending.append((i, audio))
        if len(pending) >= BATCH_CLIPS:
            flush()
    flush()
    lengths = np.asarray([len(f) for f in feats], dtype=np.int64)
    stops = np.cumsum(lengths)
    kept_rows = rows.iloc[kept]
    return {
        "features": np.concatenate(feats) if feats else np.zeros((0, p.n_mels), FEATURE_DTYPE),
        "index": np.stack([stops - lengths, stops], axis=1) if feats else np.zeros((0, 2), np.int64),
        "row": np.asarray(kept, dtype=np.int64) + first_row,
        "label": _label_array(kept_rows["label"]),
        "fold": _label_array(kept_rows["fold"]),
        "path": [str(x) for x in kept_rows["path"]],
        "skipped_path": [s[0] for s in skipped],
        "skipped_reason": [s[1] for s in skipped],
    }


def extract_logmel(
    table: pd.DataFrame,
    out_dir: Path,
    params: LogMelParams,
    *,
    clip_seconds: float | None = None,
    shard_size: int = 256,
    workers: int = 2,
    max_bad_fraction: float = 0.05,
    progress: bool = True,
) -> Path:
    """Log-mel spectrograms of every clip of ``table`` (columns ``path, label, fold``) into a sharded store.

    Rows are split in table order into shards of ``shard_size``; a shard file already present with the
    same ``params_hash`` and rows is kept (resume). Clips are decoded by ``workers`` threads (at most
    ``4 * workers`` ahead), padded/cropped to ``clip_seconds`` when given (else stored ragged), turned
    into log-mel in torch batches and written as float16. Unreadable clips are skipped and listed in
    ``skipped.csv``; more than ``max_bad_fraction`` of them raises RuntimeError and leaves no manifest.
    Returns ``out_dir`` (complete: ``manifest.json`` written last).
    """
    missing = {"path", "label", "fold"} - set(table.columns)
    if missing:
        raise ValueError(f"table lacks columns {sorted(missing)}")
    if len(table) == 0:
        raise ValueError("no clips to extract: the table is empty")
    if shard_size < 1:
        raise ValueError("shard_size must be >= 1")
    if clip_seconds is not None and clip_seconds <= 0:
        raise ValueError("clip_seconds must be > 0")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest = out_dir / MANIFEST
    if manifest.exists():
        manifest.unlink()  # the store is being rewritten: incomplete until the end
    table = table.reset_index(drop=True)
    extraction = extraction_params(params, clip_seconds)
    params_json = json.dumps(extraction, sort_keys=True)
    params_hash = _hash(extraction)
    n_shards = (len(table) + shard_size - 1) // shard_size
    names = [shard_name(i) for i in range(n_shards)]
    for stale in out_dir.glob("shard-*.h5"):
        if stale.name not in names:
            stale.unlink()
    logmel = LogMel(params)
    limit = max_bad_fraction * len(table)
    skipped: list[dict[str, str]] = []
    shards: list[dict[str, Any]] = []
    n_clips = 0
    workers = max(1, workers)

    def fail() -> None:
        _write_skipped(out_dir, skipped)
        raise RuntimeError(
            f"{len(skipped)} of {len(table)} clips unreadable ({len(skipped) / len(table):.1%} > max_bad_fraction "
            f"{max_bad_fraction:.1%}); first: {skipped[0]['path']}: {skipped[0]['reason']}"
        )

    with ThreadPoolExecutor(workers) as pool, tqdm(total=len(table), desc="log-mel", disable=not progress) as bar:
        for s in range(n_shards):
            first = s * shard_size
            rows = table.iloc[first : first + shard_size]
            path = out_dir / names[s]
            rows_hash = _rows_hash(rows)
            attrs = _read_attrs(path) if path.exists() else None
            if not (attrs and attrs.get("params_hash") == params_hash and attrs.get("rows_hash") == rows_hash):
                payload = _extract_shard(rows, first, logmel, clip_seconds, pool, 4 * workers, bar)
                _write_shard(path, s, payload, {
                    "format": FORMAT, "params": params_json, "params_hash": params_hash, "rows_hash": rows_hash,
                    "soundflow_version": __version__, "first_row": first, "n_rows": len(rows),
                    "layout": "features[frame, mel] (clips concatenated); index[clip] = start, stop frame",
                })
            else:
                bar.update(len(rows))
            shard_skipped = _read_skipped(path)
            with h5py.File(path, "r") as h5:
                kept = len(h5["row"])
            skipped += shard_skipped
            n_clips += kept
            shards.append({"file": names[s], "n_rows": len(rows), "n_clips": kept, "n_skipped": len(shard_skipped)})
            if len(skipped) > limit:
                fail()  # fails as soon as the fraction of all clips is certain to be exceeded
    _write_skipped(out_dir, skipped)
    write_json(manifest, {
        "format": FORMAT, "soundflow_version": __version__, "params": extraction, "params_hash": params_hash,
        "shard_size": shard_size, "shards": shards, "n_rows": len(table), "n_clips": n_clips,
        "n_skipped": len(skipped),
    })
    return out_dir


def _write_skipped(out_dir: Path, skipped: list[dict[str, str]]) -> None:
    with atomic_path(out_dir / SKIPPED) as tmp:
        pd.DataFrame(skipped, columns=["path", "reason"]).to_csv(tmp, index=False)


# ------------------------------------------------------------------------------------------------ reading


def _decode(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind in "OS":
        return np.asarray([v.decode() if isinstance(v, bytes) else v for v in values], dtype=object)
    return values


class FeatureStore:
    """Read access to a complete store: ``store[i] -> (features (frames, n_mels) float32, label, fold)``.

    ``table`` lists the stored clips (path, label, fold, shard, row = row of the extraction table).
    Feature arrays stay on disk; shard files are opened lazily, once per process.
    """

    def __init__(self, out_dir: Path, manifest: dict[str, Any]) -> None:
        self.out_dir = Path(out_dir)
        self.manifest = manifest
        self.params = manifest["params"]
        parts, index = [], []
        for s, shard in enumerate(manifest["shards"]):
            with h5py.File(self.out_dir / shard["file"], "r") as h5:
                n = len(h5["row"])
                parts.append(pd.DataFrame({
                    "path": _decode(h5["path"][:]), "label": _decode(h5["label"][:]), "fold": _decode(h5["fold"][:]),
                    "shard": np.full(n, s, dtype=np.int64), "row": h5["row"][:],
                }))
                index.append(h5["index"][:])
        self.table = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
            columns=["path", "label", "fold", "shard", "row"])
        self._index = np.concatenate(index) if index else np.zeros((0, 2), np.int64)
        self._shard = self.table["shard"].to_numpy()
        self._files: dict[int, h5py.File] = {}
        self._pid = os.getpid()

    def __len__(self) -> int:
        return len(self.table)

    def _file(self, s: int) -> h5py.File:
        if self._pid != os.getpid():  # handles do not survive a fork (DataLoader workers)
            self._files, self._pid = {}, os.getpid()
        if s not in self._files:
            self._files[s] = h5py.File(self.out_dir / self.manifest["shards"][s]["file"], "r")
        return self._files[s]

    def __getitem__(self, i: int) -> tuple[np.ndarray, Any, Any]:
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        i = int(i) % len(self)
        start, stop = self._index[i]
        feats = self._file(int(self._shard[i]))["features"][start:stop].astype(np.float32)
        return feats, self.table.at[i, "label"], self.table.at[i, "fold"]

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        self._files.clear()

    def __enter__(self) -> FeatureStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_UNCHECKED: Any = object()


def open_store(out_dir: Path, params: LogMelParams, *, clip_seconds: float | None = _UNCHECKED) -> FeatureStore:
    """Open a complete store made with ``params`` (and ``clip_seconds`` when given).

    Raises ValueError for an incomplete store (no manifest) or one made with other parameters,
    naming the mismatching keys.
    """
    out_dir = Path(out_dir)
    path = out_dir / MANIFEST
    if not path.is_file():
        raise ValueError(f"{out_dir}: incomplete feature store (no {MANIFEST}); rerun extract_logmel")
    manifest = json.loads(path.read_text())
    if manifest.get("format") != FORMAT:
        raise ValueError(f"{out_dir}: not a soundflow log-mel store (format {manifest.get('format')!r})")
    want = extraction_params(params, None if clip_seconds is _UNCHECKED else clip_seconds)
    if clip_seconds is _UNCHECKED:
        want.pop("clip_seconds")
    have = manifest["params"]
    bad = sorted(k for k in want if have.get(k) != json.loads(json.dumps(want[k])))
    if bad:
        detail = ", ".join(f"{k}: store {have.get(k)!r} != requested {want[k]!r}" for k in bad)
        raise ValueError(f"{out_dir}: feature store made with other parameters ({detail})")
    return FeatureStore(out_dir, manifest)
