"""Ways a checkpoint file gets damaged or replaced by hand, each applied in place to a real ``.pt`` file.

``flip_middle`` is the plain case (256 bytes inverted halfway through the file); ``flip_tensor`` inverts bytes
inside the largest tensor's record of the zip, so the damage is in the weights whatever the file's layout
(torch's zip reader checks no CRC: only the content hash can see it).
"""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

import torch


def _invert(path: Path, start: int, n: int = 256) -> None:
    data = bytearray(path.read_bytes())
    start = max(0, min(start, len(data) - n))
    data[start : start + n] = bytes(b ^ 0xFF for b in data[start : start + n])
    path.write_bytes(bytes(data))


def flip_middle(path: Path) -> None:
    _invert(path, path.stat().st_size // 2 - 128)


def flip_tensor(path: Path) -> None:
    with zipfile.ZipFile(path) as z:
        info = max((i for i in z.infolist() if "/data/" in i.filename), key=lambda i: i.file_size)
    with path.open("rb") as f:  # the record's data follows its local header (30 bytes, name, extra)
        f.seek(info.header_offset + 26)
        name_len, extra_len = int.from_bytes(f.read(2), "little"), int.from_bytes(f.read(2), "little")
    data_start = info.header_offset + 30 + name_len + extra_len
    n = min(256, info.file_size)
    _invert(path, data_start + (info.file_size - n) // 2, n)


def truncate_half(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def empty(path: Path) -> None:
    path.write_bytes(b"")


def text(path: Path) -> None:
    path.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:0\nsize 12\n")  # an LFS pointer


def edited_and_resaved(path: Path) -> None:
    """Loaded, one weight changed, saved again with torch.save: the recorded hash is kept, the content is not."""
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    state = ckpt.get("state_dict") or ckpt["model"]
    key = next(k for k, v in state.items() if v.is_floating_point())
    state[key] = state[key] + 1.0
    torch.save(ckpt, path)


def without_hash(path: Path) -> None:
    """Another valid checkpoint of the same layout, without a content hash (an older or foreign file)."""
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    ckpt.pop("content_sha256")
    torch.save(ckpt, path)


def deleted(path: Path) -> None:
    path.unlink()


def directory(path: Path) -> None:
    path.unlink()
    path.mkdir()


TAMPERS: dict[str, Callable[[Path], None]] = {
    "flip_middle": flip_middle,
    "flip_tensor": flip_tensor,
    "truncate_half": truncate_half,
    "empty": empty,
    "text": text,
    "edited_and_resaved": edited_and_resaved,
    "without_hash": without_hash,
    "deleted": deleted,
    "directory": directory,
}
# what the one-line message says for each
PROBLEM = {
    "flip_middle": ("does not match its recorded hash", "not a readable checkpoint"),
    "flip_tensor": ("does not match its recorded hash",),
    "truncate_half": ("not a readable checkpoint",),
    "empty": ("not a readable checkpoint",),
    "text": ("not a readable checkpoint",),
    "edited_and_resaved": ("does not match its recorded hash",),
    "without_hash": ("has no content hash",),
    "deleted": ("checkpoint file not found",),
    "directory": ("is a directory",),
}
