"""Is a downloaded file what its name says? Checks by declared kind, before a download is accepted.

A file published without a checksum would otherwise be accepted as whatever bytes arrive: a login
page after an expired session, Google Drive's "virus scan warning" page, a quota-exceeded notice.
:func:`problem` refuses anything that is not a readable file of its kind:

========  =====================================================================================
kind      accepted when
========  =====================================================================================
zip       the zip magic bytes, and the central directory lists at least one member
tar       gzip/bzip2/xz magic (or ``ustar`` at byte 257), and the tar listing reads to the end
json      the whole file parses as JSON (UTF-8)
text      no NUL byte in the first 64 KiB (CSV, TSV, TXT, YAML)
wav       ``RIFF....WAVE``
html      anything (HTML was expected)
binary    anything but an HTML page (the default for names of no known kind)
========  =====================================================================================

Every kind but ``html`` also refuses an HTML page, described by its title and, where recognised,
what it is (a login form, a Google Drive warning), so an error can say what came back.
"""

from __future__ import annotations

import json
import lzma
import re
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from html import unescape
from pathlib import Path

KINDS = ("zip", "tar", "json", "text", "wav", "html", "binary")
TAR_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar")
_BY_SUFFIX = {
    ".zip": "zip",
    ".json": "json",
    ".wav": "wav",
    ".html": "html",
    ".htm": "html",
    **dict.fromkeys((".csv", ".tsv", ".txt", ".yaml", ".yml", ".md"), "text"),
}

HEAD_BYTES = 64 * 1024
# an XML prolog and comments may precede the first tag of a page
_HTML_START = re.compile(
    rb"^\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html|head|body)\b", re.I | re.S
)
_TITLE = re.compile(rb"<title[^>]*>(.*?)</title", re.I | re.S)
_PASSWORD_INPUT = re.compile(rb"<input\b[^>]*\btype\s*=\s*[\"']?password", re.I)
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a local file header, or the end record of an empty zip
_TAR_MAGIC = (b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00")  # gzip, bzip2, xz; a plain tar has "ustar" at 257


def kind_of(filename: str) -> str:
    """The kind a file of this name must be (``binary`` when the name says nothing)."""
    low = filename.lower()
    if low.endswith(TAR_SUFFIXES):
        return "tar"
    return _BY_SUFFIX.get(Path(low).suffix, "binary")


def head(path: Path, n: int = HEAD_BYTES) -> bytes:
    with open(path, "rb") as f:
        return f.read(n)


def looks_like_html(data: bytes) -> bool:
    """Whether ``data`` (a file's first bytes) starts as an HTML document does."""
    return _HTML_START.match(data.lstrip(b"\xef\xbb\xbf")) is not None


def describe_html(data: bytes) -> str:
    """What an HTML page is, for an error message: its title, and what it looks like where recognisable."""
    m = _TITLE.search(data)
    title = " ".join(unescape(m.group(1).decode("utf-8", "replace")).split())[:120] if m else ""
    low = data.lower()
    if b"virus scan warning" in low or b"can't scan this file for viruses" in low or b"download-form" in low:
        what = "a Google Drive virus-scan warning page"
    elif b"quota exceeded" in low or b"too many users have viewed or downloaded" in low:
        what = "a Google Drive quota-exceeded page"
    elif _PASSWORD_INPUT.search(data):
        what = "a login page (session missing or expired?)"
    else:
        what = "an HTML page"
    return f"{what} titled {title!r}" if title else what


def _zip(path: Path, first: bytes) -> str | None:
    if not first.startswith(_ZIP_MAGIC):
        return f"no zip archive (starts with {first[:16]!r})"
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        return f"an unreadable zip archive ({e})"
    return None if names else "an empty zip archive"


def _tar(path: Path, first: bytes) -> str | None:
    if not (first.startswith(_TAR_MAGIC) or first[257:262] == b"ustar"):
        return f"no tar archive (starts with {first[:16]!r})"
    try:
        # the whole listing, not the first header: a truncated archive fails here, not in extraction
        with tarfile.open(path, "r:*") as tf:
            names = tf.getnames()
    except (tarfile.TarError, EOFError, OSError, zlib.error, lzma.LZMAError) as e:
        return f"an unreadable tar archive ({type(e).__name__}: {e})"
    return None if names else "an empty tar archive"


def _json(path: Path, first: bytes) -> str | None:
    try:
        with open(path, encoding="utf-8") as f:
            json.load(f)
    except (ValueError, UnicodeDecodeError) as e:
        return f"no valid JSON ({e})"
    return None


def _text(path: Path, first: bytes) -> str | None:
    nul = first.find(b"\x00")
    return None if nul < 0 else f"binary data, not text (a NUL byte at offset {nul})"


def _wav(path: Path, first: bytes) -> str | None:
    return None if first[:4] == b"RIFF" and first[8:12] == b"WAVE" else f"no WAV file (starts with {first[:16]!r})"


_CHECKS: dict[str, Callable[[Path, bytes], str | None]] = {
    "zip": _zip,
    "tar": _tar,
    "json": _json,
    "text": _text,
    "wav": _wav,
    "html": lambda path, first: None,
    "binary": lambda path, first: None,
}


def problem(path: Path, kind: str) -> str | None:
    """None when ``path`` is a readable file of ``kind``; else what it is instead (for an error message)."""
    if kind not in _CHECKS:
        raise ValueError(f"{path}: unknown content kind {kind!r}; known: {', '.join(KINDS)}")
    first = head(path)
    if kind != "html" and looks_like_html(first):
        return describe_html(first)
    return _CHECKS[kind](path, first)
