"""The project's own checkpoints: written atomically with a content hash, refused on load when it does not match.

``torch.save`` stores tensors uncompressed and ``torch.load`` checks no checksum, so a checkpoint with
bytes flipped in its middle loads "fine" and serves confident wrong answers. :func:`save_checkpoint` adds
``content_sha256``: a SHA-256 over a canonical serialisation of everything else in the dict (dict items
ordered by their key's digest; tensors and arrays by dtype, shape and raw bytes; plain values by type and
exact value). :func:`load_checkpoint` recomputes it, and any problem (missing file, a directory, an
unreadable zip or pickle, no hash, a hash that does not match) is a :class:`CheckpointError` whose one-line
message names the file, the problem and what to do.

A checkpoint written before checkpoints carried a hash is refused too ("rerun the stage that made it"):
telling it apart from a tampered file is impossible, and DVC reruns the training stages anyway, since
their code changed with this module.

Loading uses torch's ``weights_only`` unpickler (tensors, plain containers and the numpy types random
states need), so a replaced file cannot run code before its hash is checked; :func:`save_checkpoint`
refuses, before writing, any value that unpickler or the hash could not handle. Published weights in
other formats (PANN, YAMNet) are read by ``models.checkpoint_format`` instead.
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from models.checkpoint_format import CheckpointError, CheckpointMissing
from soundflow.io import atomic_path

HASH_KEY = "content_sha256"
DEFAULT_REMEDY = "rerun the stage that made it"
REMEDY = "rerun the stage that made it (dvc repro {stage})"  # a loader's hint, formatted with its stage

# numpy pieces that pickled arrays, scalars and dtypes refer to: the only globals the loader admits
_NUMPY_GLOBALS = [
    np.core.multiarray._reconstruct,
    np.core.multiarray.scalar,
    np.ndarray,
    np.dtype,
    *{type(np.dtype(code)) for code in "?bBhHiIlLqQefdgFDGUS"},
]


def content_hash(contents: Mapping[str, Any]) -> str:
    """The SHA-256 (hex) of ``contents`` without its ``content_sha256`` key; TypeError for a value not storable."""
    h = hashlib.sha256()
    _feed_mapping(h, {k: v for k, v in contents.items() if k != HASH_KEY}, "checkpoint")
    return h.hexdigest()


def save_checkpoint(path: str | os.PathLike[str], contents: Mapping[str, Any]) -> Path:
    """Write ``contents`` (a dict with string keys) to ``path`` atomically, with its content hash added."""
    if not isinstance(contents, Mapping):
        raise TypeError(f"{path}: a checkpoint is a dict, not a {type(contents).__name__}")
    try:
        digest = content_hash(contents)
    except TypeError as err:  # a bug in the stage that builds the contents, refused before writing
        raise TypeError(f"{path}: not written, {err}") from None
    stored = {**{k: v for k, v in contents.items() if k != HASH_KEY}, HASH_KEY: digest}
    with atomic_path(path) as tmp:
        torch.save(stored, tmp)
    return Path(path)


def load_checkpoint(
    path: str | os.PathLike[str], map_location: Any = "cpu", *, remedy: str = DEFAULT_REMEDY
) -> dict[str, Any]:
    """The dict :func:`save_checkpoint` wrote to ``path`` (without its hash), after checking the hash.

    ``remedy`` ends every error message (e.g. ``"rerun the aed_train stage (dvc repro aed_train)"``).
    Raises :class:`CheckpointError` (``CheckpointMissing``, also a FileNotFoundError, when there is no file).
    """
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path}: is a directory, not a checkpoint file; {remedy}")
    if not path.is_file():
        raise CheckpointMissing(f"{path}: checkpoint file not found; {remedy}")
    try:
        with torch.serialization.safe_globals(_NUMPY_GLOBALS):
            saved = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # zip, pickle and torch errors all mean the file is damaged or not ours
        reason = (str(err).strip().splitlines() or [""])[0][:200]
        raise CheckpointError(
            f"{path}: not a readable checkpoint, truncated or damaged ({type(err).__name__}: {reason}); {remedy}"
        ) from None
    if not isinstance(saved, dict) or HASH_KEY not in saved:
        raise CheckpointError(
            f"{path}: checkpoint has no content hash (written by an older soundflow, or not by soundflow), "
            f"so its integrity cannot be checked; {remedy}"
        )
    recorded = saved.pop(HASH_KEY)
    try:
        actual = content_hash(saved)
    except TypeError:
        actual = None  # a value a soundflow checkpoint never holds: not what was hashed
    if actual != recorded:
        raise CheckpointError(
            f"{path}: checkpoint content does not match its recorded hash "
            f"(modified or corrupted after it was written); {remedy}"
        )
    return saved


def _feed_mapping(h: Any, obj: Mapping[Any, Any], where: str) -> None:
    # ordered by each key's own digest: the same items give the same hash whatever their insertion order
    items = []
    for key, value in obj.items():
        kh = hashlib.sha256()
        _feed(kh, key, f"{where} key {key!r}")
        items.append((kh.digest(), key, value))
    items.sort(key=lambda item: item[0])
    h.update(b"d" + struct.pack("<Q", len(items)))
    for digest, key, value in items:
        h.update(digest)
        _feed(h, value, f"{where}[{key!r}]")


def _feed(h: Any, obj: Any, where: str) -> None:
    """Feed ``obj``'s canonical bytes (a type tag, then its exact value) to the hasher ``h``."""
    if obj is None or isinstance(obj, bool):
        h.update({None: b"N", True: b"T", False: b"F"}[obj])
    elif isinstance(obj, int):
        _tagged(h, b"i", str(obj).encode())
    elif isinstance(obj, float):
        h.update(b"f" + struct.pack("<d", obj))
    elif isinstance(obj, str):
        _tagged(h, b"s", obj.encode("utf-8", "surrogatepass"))
    elif isinstance(obj, torch.Tensor):
        _feed_tensor(h, obj)
    elif isinstance(obj, np.ndarray | np.generic):
        _feed_array(h, np.asarray(obj), where)
    elif isinstance(obj, Mapping):
        _feed_mapping(h, obj, where)
    elif isinstance(obj, list | tuple):  # torch.Size too; pickle keeps list, tuple and Size apart anyway
        h.update(b"l" + struct.pack("<Q", len(obj)))
        for i, item in enumerate(obj):
            _feed(h, item, f"{where}[{i}]")
    else:
        raise TypeError(f"{where}: a {type(obj).__name__} cannot be stored in a checkpoint (use plain values)")


def _tagged(h: Any, tag: bytes, data: bytes) -> None:
    h.update(tag + struct.pack("<Q", len(data)))
    h.update(data)


def _feed_tensor(h: Any, t: torch.Tensor) -> None:
    if t.layout != torch.strided:
        raise TypeError(f"a {t.layout} tensor cannot be stored in a checkpoint")
    t = t.detach().resolve_conj().resolve_neg().cpu().contiguous()
    _tagged(h, b"t", f"{t.dtype}{tuple(t.shape)}".encode())
    # raw bytes without a copy; a byte view works for every dtype, bfloat16 and bool included
    h.update(memoryview(t.reshape(-1).view(torch.uint8).numpy()))


def _feed_array(h: Any, a: np.ndarray, where: str) -> None:
    if a.dtype.hasobject:
        raise TypeError(f"{where}: an array of Python objects cannot be stored in a checkpoint")
    _tagged(h, b"a", f"{a.dtype.str}{a.shape}".encode())
    h.update(memoryview(np.ascontiguousarray(a).reshape(-1).view(np.uint8)))
