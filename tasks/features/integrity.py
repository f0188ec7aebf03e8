"""Content hashes of feature-store shards: recorded when a shard is written, checked before it is reused or read.

A shard's ``content_hash`` attribute (also in each ``manifest.json`` shard entry) is a sha256 over every
dataset of the file in name order: its name, dtype and shape, then its values streamed in slices of rows
(bounded memory, HDF5-chunk aligned). It hashes the datasets rather than the file's bytes because
writing an attribute (the hash itself, for one) rewrites HDF5 metadata and so changes the file bytes:
a file hash could not be stored inside the file it covers, and would also change with the library's
layout choices. The dataset values are what consumers read, so they are what must not change.

``params_hash`` and ``rows_hash`` decide whether a shard is current; the content hash decides whether
its bytes are still the ones written. A shard without one (written by an older version) is not trusted.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any, NamedTuple

import h5py
import numpy as np

HASH_ATTR = "content_hash"
HASH_SCHEME = "soundflow.shard_content/1"  # prefixed to the hash input: a change of scheme changes every hash
SLICE_BYTES = 8 << 20  # rows read per step: a few MiB keeps memory flat without many small reads
READ_ERRORS = (OSError, RuntimeError, KeyError, ValueError, TypeError)  # what h5py raises on damaged files


class Problem(NamedTuple):
    reason: str  # short, for one-line summaries ("content hash mismatch")
    detail: str  # with the values involved, for the warning line


def _datasets(h5: h5py.File) -> list[tuple[str, h5py.Dataset]]:
    found: list[tuple[str, h5py.Dataset]] = []
    h5.visititems(lambda name, obj: found.append((name, obj)) if isinstance(obj, h5py.Dataset) else None)
    return sorted(found, key=lambda x: x[0])


def _is_str(ds: h5py.Dataset) -> bool:
    return h5py.check_string_dtype(ds.dtype) is not None


def _row_slices(ds: h5py.Dataset) -> Iterator[slice]:
    """Slices of the first axis of about ``SLICE_BYTES`` each, whole HDF5 chunks where the dataset is chunked."""
    row_bytes = max(1, int(np.prod(ds.shape[1:], dtype=np.int64)) * ds.dtype.itemsize)
    step = max(1, SLICE_BYTES // row_bytes)
    if ds.chunks:
        step = max(ds.chunks[0], step // ds.chunks[0] * ds.chunks[0])
    for start in range(0, ds.shape[0], step):
        yield slice(start, min(ds.shape[0], start + step))


def _update_strings(h: Any, values: np.ndarray) -> None:
    for v in values.ravel():
        b = v if isinstance(v, bytes) else str(v).encode()
        h.update(len(b).to_bytes(8, "little"))  # length prefix: ["ab", "c"] and ["a", "bc"] differ
        h.update(b)


def _update_dataset(h: Any, name: str, ds: h5py.Dataset) -> None:
    dtype = "vlen-str" if _is_str(ds) else ds.dtype.str
    h.update(json.dumps([name, dtype, list(ds.shape)]).encode())
    if ds.shape is None:  # an empty (null dataspace) dataset holds no values
        return
    if ds.ndim == 0:
        blocks: Iterator[np.ndarray] = iter([np.asarray(ds[()])])
    else:
        blocks = (ds[sl] for sl in _row_slices(ds))
    for block in blocks:
        if _is_str(ds):
            _update_strings(h, block)
        else:
            h.update(np.ascontiguousarray(block))  # the array's own buffer: tobytes() copied every slice first


def content_hash(h5: h5py.File) -> str:
    """sha256 of every dataset of ``h5`` (names, dtypes, shapes, values), read in bounded slices."""
    h = hashlib.sha256(HASH_SCHEME.encode())
    for name, ds in _datasets(h5):
        _update_dataset(h, name, ds)
    return h.hexdigest()


def content_problem(h5: h5py.File, manifest_entry: dict[str, Any] | None) -> Problem | None:
    """Why the shard ``h5`` cannot be trusted, or None when its data hash to the recorded value.

    ``manifest_entry`` is the shard's entry of the store's manifest, when there is one: the hash must
    then agree with it too, so that a rewritten attribute alone cannot vouch for altered data.
    """
    recorded = h5.attrs.get(HASH_ATTR)
    if recorded is None:
        return Problem("no content hash", f"no {HASH_ATTR} attribute (written by an older version)")
    actual = content_hash(h5)
    if actual != recorded:
        return Problem("content hash mismatch", f"recorded {str(recorded)[:12]}, data hash to {actual[:12]}")
    listed = None if manifest_entry is None else manifest_entry.get(HASH_ATTR)
    if manifest_entry is not None and listed != actual:
        return Problem(
            "content hash differs from manifest.json",
            f"data and {HASH_ATTR} attribute {actual[:12]}, manifest.json {str(listed)[:12]}",
        )
    return None
