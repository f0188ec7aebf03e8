"""A sharded, resumable HDF5 feature store for any :mod:`tasks.features.representations` representation.

Layout of ``out_dir``::

    shard-00000.h5   rows 0 .. shard_size-1 of the table (in table order), written atomically
    shard-00001.h5   ...
    skipped.csv      path, reason of every unusable input (merged over shards)
    manifest.json    written last: the store is complete only when it exists

Each shard holds ``features`` (the items of all its usable inputs concatenated: frames of a
spectrogram, chunks, images; shape ``(items, *item_shape)``, chunked along items), ``index``
((clips, 2) int64 start/stop item of each input), ``label``, ``fold``, ``path``, ``row`` (row of the
input in the extraction table) and ``skipped_path``/``skipped_reason``.

Attributes of each shard: ``params`` (JSON of the representation's every parameter), ``params_hash``
(sha256 of it), ``rows_hash`` (sha256 of the shard's path/label/fold rows and of each input file's
content, :mod:`soundflow.digests`: an input replaced by other bytes of the same size and modification
time is a changed input), ``content_hash`` (sha256 of its datasets, :mod:`tasks.features.integrity`; also
in the manifest's entry of the shard), ``soundflow_version`` and ``format``. A rerun keeps a shard whose
file has the same ``params_hash`` and ``rows_hash`` (so a killed run resumes after the last finished
shard) and whose data still hash to its ``content_hash`` and to the previous manifest's entry; it
recomputes any other, warning about the shards that failed that check (damaged since written), and
prints how many shards were reused and how many built. The manifest carries its own ``manifest_hash``.

Reading (:func:`open_store`, :class:`FeatureStore`) checks every shard against the manifest before serving
anything (:func:`check_shard`, once per process and file state): a shard modified, truncated or deleted
after extraction is refused with :class:`CorruptStore`, never read.

Extraction is three steps so that shards can run anywhere (threads here, Dask workers through
:mod:`tasks.features.dask_shards`): :func:`plan_store` (validate, clear what is stale), :func:`extract_shard`
(one shard, a no-op when already done) and :func:`finish_store` (skip list, threshold, manifest);
:func:`extract_features` runs the three in this process.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections import deque
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from soundflow import __version__
from soundflow.digests import files_sha256
from soundflow.errors import UserError
from soundflow.inputs import InputError
from soundflow.io import atomic_path, write_bytes, write_json
from tasks.features.integrity import HASH_ATTR, READ_ERRORS, Problem, content_hash, content_problem
from tasks.features.representations import Representation

FORMAT = "soundflow.feature_store/3"  # 3: inputs identified by content, manifest_hash
MANIFEST = "manifest.json"
SKIPPED = "skipped.csv"
BATCH_INPUTS = 8  # inputs per worker job: small enough to balance the threads, large enough to batch the transform
MANIFEST_HASH = "manifest_hash"
RUN_KEYS = ("skipped", "status", "reason", "detail", "worker")  # shard summary keys that describe a run, not the store


def shard_name(i: int) -> str:
    return f"shard-{i:05d}.h5"


def store_params(rep: Representation) -> dict[str, Any]:
    """Every parameter that changes the stored values (what ``params_hash`` covers)."""
    return {**rep.describe(), "format": FORMAT}


def _hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def input_digests(paths: pd.Series, base_dir: Path | None = None) -> list[str]:
    """sha256 of each input file's bytes (``missing`` for an unreadable one): a shard is kept only while
    its inputs hold the same content. Size and mtime cannot tell: ``cp -p`` of other audio of the same
    size keeps both. Hashing reads each input once, in threads, every time the stage runs."""
    return files_sha256([base_dir / str(p) if base_dir is not None else str(p) for p in paths])


def _rows_hash(rows: pd.DataFrame, digests: list[str]) -> str:
    return _hash(
        [[str(p), str(lab), str(f), d] for p, lab, f, d in zip(rows["path"], rows["label"], rows["fold"], digests)]
    )


# ------------------------------------------------------------------------------------------------ planning


def _previous_entries(out_dir: Path) -> dict[str, dict[str, Any]]:
    """The shard entries of the manifest a previous run left, by file name ({} when there is none).

    Read before the manifest is removed: it is the second record of each shard's content hash, so a
    shard whose data and hash attribute were both altered is still caught. The manifest is deleted
    before any shard is written, so when it exists its entries describe the shard files on disk.
    """
    path = out_dir / MANIFEST
    if not path.is_file():
        return {}
    try:
        shards = json.loads(path.read_text())["shards"]
        return {str(e["file"]): dict(e) for e in shards}
    except (OSError, ValueError, KeyError, TypeError) as err:
        print(
            f"warning: feature store {out_dir}: unreadable {MANIFEST} ({err!r}); checking shards against "
            f"their own {HASH_ATTR} only",
            flush=True,
        )
        return {}


@dataclass(frozen=True)
class ShardSpec:
    index: int
    file: str
    first_row: int
    rows: pd.DataFrame
    rows_hash: str
    manifest_entry: dict[str, Any] | None = None  # the shard's entry in the manifest found when planning, if any


@dataclass(frozen=True)
class StorePlan:
    """What :func:`extract_shard` needs, picklable (it travels to Dask workers)."""

    out_dir: Path
    rep: Representation
    params_json: str
    params_hash: str
    n_rows: int
    shard_size: int
    shards: tuple[ShardSpec, ...]
    base_dir: Path | None = None  # relative table paths are read from here (and stored relative: portable stores)


def plan_store(
    table: pd.DataFrame, out_dir: Path, rep: Representation, *, shard_size: int = 256, base_dir: Path | None = None
) -> StorePlan:
    """Validate ``table`` (columns ``path, label, fold``; relative paths are relative to ``base_dir``),
    split it into shards, clear the manifest and any shard file that no longer belongs to the store."""
    missing = {"path", "label", "fold"} - set(table.columns)
    if missing:
        raise ValueError(f"table lacks columns {sorted(missing)}")
    if len(table) == 0:
        raise ValueError("no inputs to extract: the table is empty")
    if shard_size < 1:
        raise ValueError("shard_size must be >= 1")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    recorded = _previous_entries(out_dir)
    (out_dir / MANIFEST).unlink(missing_ok=True)  # the store is being rewritten: incomplete until the end
    table = table.reset_index(drop=True)
    params = store_params(rep)
    digests = input_digests(table["path"], None if base_dir is None else Path(base_dir))
    shards = []
    for s, first in enumerate(range(0, len(table), shard_size)):
        rows = table.iloc[first : first + shard_size]
        row_hash = _rows_hash(rows, digests[first : first + shard_size])
        shards.append(ShardSpec(s, shard_name(s), first, rows, row_hash, recorded.get(shard_name(s))))
    names = {sh.file for sh in shards}
    for stale in out_dir.glob("shard-*.h5"):
        if stale.name not in names:
            stale.unlink()
    return StorePlan(
        out_dir,
        rep,
        json.dumps(params, sort_keys=True),
        _hash(params),
        len(table),
        shard_size,
        tuple(shards),
        None if base_dir is None else Path(base_dir),
    )


# ------------------------------------------------------------------------------------------------ one shard


def _read_and_compute(rep: Representation, paths: list[str], device: torch.device) -> list[np.ndarray | str]:
    """Features of each input of ``paths``, or the reason it is unusable (runs in a worker thread).

    Reading (decoding, resampling, resizing) costs more than the transform and releases the GIL,
    as do torch's kernels, so each worker does both for its own small batch: the cores stay busy
    without a hand-off to a single computing thread.
    """
    fitted: list[np.ndarray | str] = []
    for path in paths:
        try:
            fitted.append(rep.fit(rep.read(path)))
        except InputError as err:
            fitted.append(err.problem)
    usable = [x for x in fitted if not isinstance(x, str)]
    computed = iter(rep.compute(usable, device) if usable else [])
    return [x if isinstance(x, str) else next(computed) for x in fitted]


def _bounded_map(
    pool: ThreadPoolExecutor, rep: Representation, batches: list[list[str]], device: torch.device, ahead: int
) -> Iterator[list[np.ndarray | str]]:
    """Batches in order, with at most ``ahead`` batches in flight beyond the one consumed (bounded memory)."""
    futures: deque = deque()
    try:
        for batch in batches:
            futures.append(pool.submit(_read_and_compute, rep, batch, device))
            if len(futures) > ahead:
                yield futures.popleft().result()
        while futures:
            yield futures.popleft().result()
    finally:
        for fut in futures:
            fut.cancel()


@contextmanager
def _compute_threads(device: torch.device) -> Iterator[None]:
    """On CPU the worker threads already fill the cores: torch's own thread pool would oversubscribe them."""
    before = torch.get_num_threads()
    if device.type == "cpu":
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _label_array(values: pd.Series) -> np.ndarray:
    if pd.api.types.is_integer_dtype(values) or pd.api.types.is_bool_dtype(values):
        return values.to_numpy(dtype=np.int64)
    return np.asarray([str(v) for v in values], dtype=object)


@contextmanager
def _h5_image(path: Path) -> Iterator[h5py.File]:
    """An HDF5 file built in memory, then written to ``path`` atomically by Python.

    HDF5 writing to disk itself crashes the process (a segfault at exit) after a write failed on a full
    disk; in memory nothing fails but Python's one write, which ends in DiskFull, naming the disk."""
    image = io.BytesIO()
    with h5py.File(image, "w") as h5:
        yield h5
    write_bytes(path, image.getbuffer())


def _write_shard(path: Path, plan: StorePlan, shard: ShardSpec, payload: dict[str, Any]) -> None:
    """Write one shard file atomically (temp sibling + rename), its content hash read back from the
    datasets just written (the very computation that verifies it later) before the rename."""
    str_dt = h5py.string_dtype()
    feats = payload["features"]
    with _h5_image(path) as h5:
        chunks = (min(len(feats), plan.rep.hdf5_chunk_items), *feats.shape[1:]) if len(feats) else None
        h5.create_dataset("features", data=feats, chunks=chunks)
        h5.create_dataset("index", data=payload["index"])
        h5.create_dataset("row", data=payload["row"])
        for key in ("label", "fold"):
            arr = payload[key]
            h5.create_dataset(key, data=arr, dtype=str_dt if arr.dtype == object else arr.dtype)
        for key in ("path", "skipped_path", "skipped_reason"):
            h5.create_dataset(key, data=np.asarray(payload[key], dtype=object), dtype=str_dt)
        for key, arr in payload.get("extras", {}).items():
            h5.create_dataset(key, data=arr)
        for alias, target in getattr(plan.rep, "aliases", {}).items():
            h5[alias] = h5[target]  # a second name of the same dataset (an HDF5 hard link), no copy
        h5.attrs[HASH_ATTR] = content_hash(h5)
        h5.attrs.update(
            {
                "format": FORMAT,
                "representation": plan.rep.name,
                "params": plan.params_json,
                "params_hash": plan.params_hash,
                "rows_hash": shard.rows_hash,
                "soundflow_version": __version__,
                "shard": shard.index,
                "first_row": shard.first_row,
                "n_rows": len(shard.rows),
                "layout": "features[item, ...] (inputs concatenated); index[input] = start, stop item",
            }
        )


def _reuse_check(path: Path, plan: StorePlan, shard: ShardSpec) -> tuple[str, Problem | None]:
    """``("reused", None)`` for a current, intact shard file; else how it will be computed and why:
    ``"built"`` when it is missing or stale (other parameters or inputs: the expected recomputation),
    ``"rebuilt"`` when it is current but damaged (unreadable, or its data no longer hash to the record)."""
    if not path.exists():
        return "built", Problem("new", "no shard file")
    try:
        with h5py.File(path, "r") as h5:
            if h5.attrs.get("params_hash") != plan.params_hash:
                return "built", Problem("parameters changed", "params_hash differs")
            if h5.attrs.get("rows_hash") != shard.rows_hash:
                return "built", Problem("inputs changed", "rows_hash differs")
            problem = content_problem(h5, shard.manifest_entry)
    except READ_ERRORS as err:
        return "rebuilt", Problem("unreadable", f"unreadable: {err!r}")
    return ("rebuilt", problem) if problem else ("reused", None)


def _str(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _summary(path: Path, shard: ShardSpec) -> dict[str, Any]:
    with h5py.File(path, "r") as h5:
        skipped = [{"path": _str(p), "reason": _str(r)} for p, r in zip(h5["skipped_path"][:], h5["skipped_reason"][:])]
        return {
            "file": shard.file,
            "rows_hash": shard.rows_hash,
            HASH_ATTR: _str(h5.attrs[HASH_ATTR]),
            "n_rows": len(shard.rows),
            "n_clips": len(h5["row"]),
            "n_items": len(h5["features"]),
            "n_skipped": len(skipped),
            "skipped": skipped,
        }


def _shard_batches(plan: StorePlan, shard: ShardSpec) -> list[list[str]]:
    """The paths to read of the shard's inputs, in worker jobs of :data:`BATCH_INPUTS`."""
    full = [str(plan.base_dir / str(x)) if plan.base_dir is not None else str(x) for x in shard.rows["path"]]
    return [full[i : i + BATCH_INPUTS] for i in range(0, len(full), BATCH_INPUTS)]


def _compute_shard(
    plan: StorePlan, shard: ShardSpec, results: Iterator[list[np.ndarray | str]], bar: tqdm | None
) -> dict[str, Any]:
    """The shard's datasets from ``results``, the worker outputs of its :func:`_shard_batches` in order (it
    takes exactly that many from the iterator: the one stream of several shards, in :func:`extract_features`)."""
    rep = plan.rep
    feats: list[np.ndarray] = []
    extras: dict[str, list[np.ndarray]] = {}
    kept: list[int] = []
    skipped: list[tuple[str, str]] = []
    paths = [str(x) for x in shard.rows["path"]]
    i = 0
    for _ in range(-(-len(shard.rows) // BATCH_INPUTS)):  # the number of its _shard_batches
        results_of_batch = next(results)
        for x in results_of_batch:
            if isinstance(x, str):
                skipped.append((paths[i], x))
            else:
                feats.append(_with_extras(x, extras))
                kept.append(i)
            i += 1
        if bar is not None:
            bar.update(len(results_of_batch))
    lengths = np.asarray([len(f) for f in feats], dtype=np.int64)
    stops = np.cumsum(lengths)
    kept_rows = shard.rows.iloc[kept]
    return {
        "features": np.concatenate(feats) if feats else np.zeros((0, *rep.item_shape), rep.dtype),
        "index": np.stack([stops - lengths, stops], axis=1) if feats else np.zeros((0, 2), np.int64),
        "row": np.asarray(kept, dtype=np.int64) + shard.first_row,
        "label": _label_array(kept_rows["label"]),
        "fold": _label_array(kept_rows["fold"]),
        "path": [str(x) for x in kept_rows["path"]],
        "skipped_path": [s[0] for s in skipped],
        "skipped_reason": [s[1] for s in skipped],
        "extras": {k: np.stack(v) for k, v in extras.items()},
    }


def _with_extras(x: np.ndarray | Mapping[str, np.ndarray], extras: dict[str, list[np.ndarray]]) -> np.ndarray:
    """An input's items; a representation that also stores per-input arrays (one row per input, such as
    the audiovisual pairs' audio, labels and boxes) computes a mapping with ``features`` and those arrays."""
    if not isinstance(x, Mapping):
        return x
    for k, v in x.items():
        if k != "features":
            extras.setdefault(k, []).append(np.asarray(v))
    return x["features"]


def _reused(path: Path, shard: ShardSpec, status: str, bar: tqdm | None) -> dict[str, Any]:
    summary = _summary(path, shard)
    _remember_intact(path, summary[HASH_ATTR])  # just verified: readers in this process need not reread it
    if bar is not None:
        bar.update(len(shard.rows))
    return {**summary, "status": status}


def _built(
    plan: StorePlan, shard: ShardSpec, status: str, problem: Problem, results: Iterator, bar: tqdm | None
) -> dict[str, Any]:
    """Compute the shard from ``results``, write it, and return its summary."""
    if status == "rebuilt":
        print(f"warning: feature store {plan.out_dir}: rebuilding {shard.file}: {problem.detail}", flush=True)
    path = plan.out_dir / shard.file
    _write_shard(path, plan, shard, _compute_shard(plan, shard, results, bar))
    summary = _summary(path, shard)
    _remember_intact(path, summary[HASH_ATTR])  # hashed from the written datasets: readers here need not reread it
    return {**summary, "status": status, "reason": problem.reason, "detail": problem.detail}


def extract_shard(
    plan: StorePlan,
    s: int,
    *,
    workers: int = 2,
    device: str | torch.device = "cpu",
) -> dict[str, Any]:
    """Compute and write shard ``s`` unless its file is already done and intact; return its summary
    (file, rows, content hash, clips, items, skipped inputs; ``status`` reused/built/rebuilt and, when
    computed, ``reason`` and ``detail``). ``workers`` threads read and compute batches of inputs."""
    shard = plan.shards[s]
    status, problem = _reuse_check(plan.out_dir / shard.file, plan, shard)
    if problem is None:
        return _reused(plan.out_dir / shard.file, shard, status, None)
    device = torch.device(device)
    workers = max(1, workers)
    with ThreadPoolExecutor(workers) as pool, _compute_threads(device):
        with closing(_bounded_map(pool, plan.rep, _shard_batches(plan, shard), device, 2 * workers)) as results:
            return _built(plan, shard, status, problem, results, None)


# ------------------------------------------------------------------------------------------------ finishing


class TooManyBadInputs(UserError, RuntimeError):
    pass


def _check_bad(plan: StorePlan, skipped: list[dict[str, str]], max_bad_fraction: float) -> None:
    if len(skipped) > max_bad_fraction * plan.n_rows:
        _write_skipped(plan.out_dir, skipped)
        raise TooManyBadInputs(
            f"{len(skipped)} of {plan.n_rows} inputs unusable ({len(skipped) / plan.n_rows:.1%} > max_bad_fraction "
            f"{max_bad_fraction:.1%}); first: {skipped[0]['path']}: {skipped[0]['reason']}"
        )


def finish_store(
    plan: StorePlan,
    summaries: list[dict[str, Any]],
    *,
    max_bad_fraction: float = 0.05,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``skipped.csv`` and, unless more than ``max_bad_fraction`` of the inputs were unusable
    (TooManyBadInputs), the manifest that marks the store complete, with ``extra`` (JSON: what the
    consumer needs beside the features, such as class names). Returns ``out_dir``."""
    skipped = [s for summary in summaries for s in summary["skipped"]]
    print(reuse_line(plan.out_dir, summaries), flush=True)
    _check_bad(plan, skipped, max_bad_fraction)
    _write_skipped(plan.out_dir, skipped)
    write_json(
        plan.out_dir / MANIFEST,
        _sealed(
            {
                "format": FORMAT,
                "representation": plan.rep.name,
                "soundflow_version": __version__,
                "params": json.loads(plan.params_json),
                "params_hash": plan.params_hash,
                "shard_size": plan.shard_size,
                "item_shape": list(plan.rep.item_shape),
                "dtype": np.dtype(plan.rep.dtype).name,
                "shards": [{k: v for k, v in s.items() if k not in RUN_KEYS} for s in summaries],
                "n_rows": plan.n_rows,
                "n_clips": sum(s["n_clips"] for s in summaries),
                "n_items": sum(s["n_items"] for s in summaries),
                "n_skipped": len(skipped),
                "extra": extra or {},
            }
        ),
    )
    return plan.out_dir


def _manifest_digest(manifest: dict[str, Any]) -> str:
    return _hash({k: v for k, v in manifest.items() if k != MANIFEST_HASH})


def _sealed(manifest: dict[str, Any]) -> dict[str, Any]:
    """``manifest`` with its own hash (of its JSON form): an edit of the manifest by hand is refused on reading."""
    doc = json.loads(json.dumps(manifest))
    return {**doc, MANIFEST_HASH: _manifest_digest(doc)}


def reuse_line(out_dir: Path, summaries: list[dict[str, Any]]) -> str:
    """``store <dir>: N shard(s) reused, M built (K rebuilt: <reason> in <file>; ...)`` for the stage log."""
    status = [s.get("status", "built") for s in summaries]
    rebuilt = [f"{s.get('reason', '?')} in {s['file']}" for s in summaries if s.get("status") == "rebuilt"]
    line = f"store {out_dir}: {status.count('reused')} shard(s) reused, {len(status) - status.count('reused')} built"
    return line + (f" ({len(rebuilt)} rebuilt: {'; '.join(rebuilt)})" if rebuilt else "")


def _write_skipped(out_dir: Path, skipped: list[dict[str, str]]) -> None:
    with atomic_path(out_dir / SKIPPED) as tmp:
        pd.DataFrame(skipped, columns=["path", "reason"]).to_csv(tmp, index=False)


def extract_features(
    table: pd.DataFrame,
    out_dir: Path,
    rep: Representation,
    *,
    shard_size: int = 256,
    workers: int = 2,
    device: str | torch.device = "cpu",
    max_bad_fraction: float = 0.05,
    progress: bool = True,
    base_dir: Path | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """``rep`` of every input of ``table`` (columns ``path, label, fold``) into a sharded store at ``out_dir``.

    Rows are split in table order into shards of ``shard_size``; a finished shard with the same
    parameters and rows whose data still match its content hash is kept (resume). ``workers`` threads
    each read a batch of inputs and compute it on ``device`` (at most ``2 * workers`` batches in flight).
    Unusable inputs are skipped and listed in ``skipped.csv``; as soon as more than ``max_bad_fraction``
    of all inputs are known bad, TooManyBadInputs is raised and no manifest is written. Returns ``out_dir`` (complete).
    """
    plan = plan_store(table, out_dir, rep, shard_size=shard_size, base_dir=base_dir)
    workers, device = max(1, workers), torch.device(device)
    checks = [_reuse_check(plan.out_dir / shard.file, plan, shard) for shard in plan.shards]
    # the inputs of every shard to compute are one stream of worker jobs: the workers go on with the next
    # shard's inputs while this thread assembles, hashes and writes the previous shard, instead of idling
    # at each shard's end with one core or all of them (the last job of a shard runs alone)
    todo = [
        b
        for shard, (_, problem) in zip(plan.shards, checks)
        if problem is not None
        for b in _shard_batches(plan, shard)
    ]
    summaries: list[dict[str, Any]] = []
    with (
        ThreadPoolExecutor(workers) as pool,
        tqdm(total=plan.n_rows, desc=rep.name, disable=not progress) as bar,
        _compute_threads(device),
        closing(_bounded_map(pool, rep, todo, device, 2 * workers)) as results,
    ):
        for shard, (status, problem) in zip(plan.shards, checks):
            path = plan.out_dir / shard.file
            done = problem is None
            summaries.append(
                _reused(path, shard, status, bar) if done else _built(plan, shard, status, problem, results, bar)
            )
            # fail as soon as the fraction of all inputs is certain to be exceeded
            _check_bad(plan, [x for summary in summaries for x in summary["skipped"]], max_bad_fraction)
    return finish_store(plan, summaries, max_bad_fraction=max_bad_fraction, extra=extra)


# ------------------------------------------------------------------------------------------------ reading


def _decode(values: np.ndarray) -> np.ndarray:
    if values.dtype.kind in "OS":
        return np.asarray([_str(v) for v in values], dtype=object)
    return values


class FeatureStore:
    """Read access to a complete store: ``store[i] -> (items (n, *item_shape), label, fold)``.

    ``table`` lists the stored inputs (path, label, fold, shard, row = row of the extraction table).
    Float features are returned as float32; images stay uint8. Arrays stay on disk; shard files are
    opened lazily, once per process. Every shard is checked against the manifest first (:func:`check_shard`):
    CorruptStore for a shard modified, truncated or deleted since the extraction wrote it.
    """

    def __init__(self, out_dir: Path, manifest: dict[str, Any]) -> None:
        self.out_dir = Path(out_dir)
        self.manifest = manifest
        self.params = manifest["params"]
        parts, index = [], []
        for s, shard in enumerate(manifest["shards"]):
            check_shard(self.out_dir, shard)
            with h5py.File(self.out_dir / shard["file"], "r") as h5:
                n = len(h5["row"])
                parts.append(
                    pd.DataFrame(
                        {
                            "path": _decode(h5["path"][:]),
                            "label": _decode(h5["label"][:]),
                            "fold": _decode(h5["fold"][:]),
                            "shard": np.full(n, s, dtype=np.int64),
                            "row": h5["row"][:],
                        }
                    )
                )
                index.append(h5["index"][:])
        self.table = (
            pd.concat(parts, ignore_index=True)
            if parts
            else pd.DataFrame(columns=["path", "label", "fold", "shard", "row"])
        )
        self._index = np.concatenate(index) if index else np.zeros((0, 2), np.int64)
        self._shard = self.table["shard"].to_numpy()
        self._float = np.dtype(manifest["dtype"]).kind == "f"
        self._shard_items = np.cumsum([0] + [int(s["n_items"]) for s in manifest["shards"]])
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
        feats = self._file(int(self._shard[i]))["features"][start:stop]
        return (feats.astype(np.float32) if self._float else feats), self.table.at[i, "label"], self.table.at[i, "fold"]

    @property
    def item_counts(self) -> np.ndarray:
        """Items (frames, chunks, images) of each stored input, in table order."""
        return self._index[:, 1] - self._index[:, 0]

    def item(self, g: int) -> np.ndarray:
        """One item by its row among all items of the store (inputs in table order, their items in order)."""
        s = int(np.searchsorted(self._shard_items, g, side="right")) - 1
        if not 0 <= s < len(self._shard_items) - 1:
            raise IndexError(g)
        x = self._file(s)["features"][int(g - self._shard_items[s])]
        return x.astype(np.float32) if self._float else x

    def close(self) -> None:
        for f in self._files.values():
            f.close()
        self._files.clear()

    def __enter__(self) -> FeatureStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_manifest(out_dir: Path) -> dict[str, Any]:
    """The manifest of a complete store; ValueError for an incomplete store or another format."""
    out_dir = Path(out_dir)
    path = out_dir / MANIFEST
    if not path.is_file():
        raise CorruptStore(f"{out_dir}: incomplete feature store (no {MANIFEST}); rerun the extraction")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise CorruptStore(f"{path}: unreadable manifest ({err}); rerun the extraction to rebuild the store") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else None
        raise CorruptStore(f"{out_dir}: not a soundflow feature store of this version (format {found!r})")
    if manifest.get(MANIFEST_HASH) != _manifest_digest(manifest):
        raise CorruptStore(
            f"{path}: altered since the extraction wrote it ({MANIFEST_HASH} differs); rerun the extraction"
        )
    return manifest


class CorruptStore(UserError, ValueError):
    """A store that is incomplete, altered or damaged since the extraction wrote it (the message names the file)."""


_intact: set[tuple] = set()  # (file state, content hash) of shards found intact in this process


def _file_state(path: Path) -> tuple:
    """Identity of the file's current bytes without reading them: a write, truncation, replacement or utime
    changes the ctime, which no user can set back."""
    st = os.stat(path)
    return (str(Path(path).resolve()), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _remember_intact(path: Path, digest: str) -> None:
    try:
        _intact.add((_file_state(path), digest))
    except OSError:
        pass


def shard_problem(out_dir: Path, entry: dict[str, Any]) -> Problem | None:
    """Why the shard of manifest ``entry`` cannot be served, or None when its data hash to the records.

    A full read of the shard, once per process and file state (a shard written or checked here is known)."""
    path = Path(out_dir) / entry["file"]
    try:
        key = (_file_state(path), entry.get(HASH_ATTR))
    except OSError:
        return Problem("missing", "file missing")
    if key in _intact:
        return None
    try:
        with h5py.File(path, "r") as h5:
            problem = content_problem(h5, entry)
    except READ_ERRORS as err:
        problem = Problem("unreadable", f"unreadable: {type(err).__name__}: {str(err)[:120]}")
    if problem is None:
        _intact.add(key)
    return problem


def check_shard(out_dir: Path, entry: dict[str, Any]) -> None:
    """CorruptStore naming the shard file unless it still holds the data the manifest records."""
    problem = shard_problem(out_dir, entry)
    if problem is not None:
        raise CorruptStore(
            f"{Path(out_dir)}: damaged feature store ({entry['file']}: {problem.detail}); "
            "rerun the extraction to rebuild it"
        )


def verify_store(out_dir: Path, manifest: dict[str, Any] | None = None) -> None:
    """Check that every shard of the complete store ``out_dir`` still holds the data it was written
    with (its datasets hash to its ``content_hash`` attribute and to the manifest's entry).

    Reads the whole store once, in bounded slices (shards already found intact in this process, unchanged
    since, are not read again). Raises CorruptStore naming each damaged shard and why. Opening a store
    (:class:`FeatureStore`) makes the same check, so no consumer reads a damaged shard.
    """
    out_dir = Path(out_dir)
    manifest = manifest if manifest is not None else read_manifest(out_dir)
    bad = []
    for entry in manifest["shards"]:
        problem = shard_problem(out_dir, entry)
        if problem is not None:
            bad.append(f"{entry['file']}: {problem.detail}")
    if bad:
        raise CorruptStore(f"{out_dir}: damaged feature store ({'; '.join(bad)}); rerun the extraction to rebuild it")


def open_store(out_dir: Path, rep: Representation, *, verify: bool = False) -> FeatureStore:
    """Open a complete store made with exactly ``rep``'s parameters.

    Raises ValueError for an incomplete store (no manifest) or one made with other parameters, naming
    the mismatching keys, and CorruptStore (a ValueError) for an altered manifest or a damaged shard: every
    shard's content hash is checked when the store is opened (:class:`FeatureStore`). ``verify`` reports
    every damaged shard at once (:func:`verify_store`) instead of the first.
    """
    out_dir = Path(out_dir)
    manifest = read_manifest(out_dir)
    want = json.loads(json.dumps(store_params(rep)))
    have = manifest["params"]
    bad = sorted(k for k in set(want) | set(have) if have.get(k) != want.get(k))
    if bad:
        detail = ", ".join(f"{k}: store {have.get(k)!r} != requested {want.get(k)!r}" for k in bad)
        raise ValueError(f"{out_dir}: feature store made with other parameters ({detail})")
    if verify:
        verify_store(out_dir, manifest)
    return FeatureStore(out_dir, manifest)
