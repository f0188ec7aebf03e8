"""Registry of downloadable datasets: what to fetch, from where, under which licence, and how to index it.

Each corpus module in :mod:`tasks.datasets.corpora` describes one dataset (lhotse-recipe style) and
calls :func:`register` with a :class:`DatasetInfo`. Then::

    fetch(name, raw_root)    # download every file to raw_root/<folder>/downloads/, verify, extract
    is_present(name, raw_root)
    prepare(name, raw_root)  # -> raw_root/<folder>/metadata.csv (written atomically; paths relative to <folder>)

Layout under ``raw_root/<folder>/``: ``downloads/<filename>`` (verified archives, with
``download``'s ``.done`` markers); every archive is extracted into its own sub-folder named after it
without the archive suffix (``ESC-50-master.zip`` -> ``ESC-50-master/``), because :func:`extract`
writes one folder per archive atomically; a file that is no archive (a CSV, a YAML) is copied to
``<folder>/<filename>``. Downloads all come first, so a checksum failure in any file leaves nothing
extracted. ``base_url`` replaces scheme and host of every URL (download and login URLs alike), which
is how tests point the real code at a local server.
"""

from __future__ import annotations

import io
import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pandas as pd

from soundflow.io import atomic_path
from tasks.datasets.download import credentials_from_env, download, login_session, safe_url
from tasks.datasets.extract import MARKER, extract

log = logging.getLogger(__name__)

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar", ".zip")

CITYSCAPES_LOGIN_URL = "https://www.cityscapes-dataset.com/login/"
LOGINS = {"cityscapes": (CITYSCAPES_LOGIN_URL, "CITYSCAPES_USERNAME", "CITYSCAPES_PASSWORD")}


@dataclass(frozen=True)
class RemoteFile:
    """One published file: ``url``, local ``filename``, expected ``size`` and ``md5`` (None: not published)."""

    url: str
    filename: str
    size: int | None
    md5: str | None


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    description: str
    homepage: str
    licence: str
    citation: str
    files: tuple[RemoteFile, ...]
    login: str | None  # None, or a key of LOGINS ("cityscapes")
    folder: str  # under data/raw
    prepare: Callable[[Path], pd.DataFrame]


_REGISTRY: dict[str, DatasetInfo] = {}


def register(info: DatasetInfo) -> DatasetInfo:
    """Add ``info`` (re-registering the same name replaces it); returns ``info``."""
    if info.login is not None and info.login not in LOGINS:
        raise ValueError(f"{info.name}: unknown login {info.login!r}; known: {sorted(LOGINS)}")
    _REGISTRY[info.name] = info
    return info


def _load() -> None:
    import tasks.datasets.corpora  # noqa: F401  (registers every corpus)


def get(name: str) -> DatasetInfo:
    _load()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown dataset {name!r}; available: {available()}") from None


def available() -> list[str]:
    _load()
    return sorted(_REGISTRY)


def archive_stem(filename: str) -> str | None:
    """``filename`` without its archive suffix, or None when it is no archive."""
    low = filename.lower()
    for suf in ARCHIVE_SUFFIXES:
        if low.endswith(suf):
            return filename[: -len(suf)]
    return None


def rebase(url: str, base_url: str | None) -> str:
    """``url`` with scheme and host replaced by those of ``base_url`` (path and query kept)."""
    if base_url is None:
        return url
    b, u = urlsplit(base_url), urlsplit(url)
    path = b.path.rstrip("/") + u.path
    return urlunsplit((b.scheme, b.netloc, path, u.query, ""))


def _target(folder: Path, f: RemoteFile) -> Path:
    stem = archive_stem(f.filename)
    return folder / (stem if stem is not None else f.filename)


def _present(folder: Path, f: RemoteFile) -> bool:
    target = _target(folder, f)
    return (target / MARKER).is_file() if archive_stem(f.filename) is not None else target.is_file()


def fetch(
    name: str,
    raw_root: Path,
    *,
    base_url: str | None = None,
    session=None,
    progress: bool = True,
) -> Path:
    """Download, verify and extract every file of dataset ``name``; return ``raw_root/<folder>``."""
    info = get(name)
    folder = Path(raw_root) / info.folder
    downloads = folder / "downloads"
    if info.login is not None and session is None:
        login_url, user_var, pw_var = LOGINS[info.login]
        user, password = credentials_from_env(user_var, pw_var)
        session = login_session(rebase(login_url, base_url), user, password)
        del password
    archives: list[tuple[RemoteFile, Path]] = []
    for f in info.files:
        url = rebase(f.url, base_url)
        if f.md5 is None and f.size is None:
            log.warning("%s: %s publishes no checksum; the download is verified by nothing", name, safe_url(url))
        archives.append((f, download(url, downloads / f.filename, md5=f.md5, size=f.size, session=session, progress=progress)))
    for f, path in archives:
        target = _target(folder, f)
        if archive_stem(f.filename) is not None:
            extract(path, target)
        elif not target.is_file():
            with atomic_path(target) as tmp:
                shutil.copyfile(path, tmp)
    log.info("%s ready in %s", name, folder)
    return folder


def is_present(name: str, raw_root: Path) -> bool:
    """Whether every file of ``name`` has been fetched and extracted under ``raw_root``."""
    info = get(name)
    folder = Path(raw_root) / info.folder
    return all(_present(folder, f) for f in info.files)


def prepare(name: str, raw_root: Path) -> Path:
    """Write ``raw_root/<folder>/metadata.csv`` (atomically) from the dataset's prepare function."""
    info = get(name)
    folder = Path(raw_root) / info.folder
    table = _relative_to(info.prepare(folder), folder)
    out = folder / "metadata.csv"
    buf = io.StringIO()
    table.to_csv(buf, index=False)
    with atomic_path(out) as tmp:
        tmp.write_text(buf.getvalue(), encoding="utf-8")
    log.info("%s: %d rows -> %s", name, len(table), out)
    return out


PATH_COLUMNS = ("path", "label_path")


def _relative_to(table: pd.DataFrame, folder: Path) -> pd.DataFrame:
    """Paths under ``folder`` made relative to it: the table stays valid wherever the dataset is moved or pulled."""
    base = folder.resolve()

    def rel(v: object) -> object:
        if not isinstance(v, str) or not Path(v).is_absolute():
            return v
        try:
            return Path(v).resolve().relative_to(base).as_posix()
        except ValueError:
            return v

    table = table.copy()
    for col in PATH_COLUMNS:
        if col in table.columns:
            table[col] = table[col].map(rel)
    return table


def find_one(root: Path, pattern: str) -> Path:
    """The single shallowest match of ``pattern`` (a glob) under ``root``, skipping ``downloads/``."""
    hits = sorted((p for p in Path(root).glob(pattern) if "downloads" not in p.relative_to(root).parts[:1]),
                  key=lambda p: (len(p.parts), str(p)))
    if not hits:
        raise FileNotFoundError(f"{root}: nothing matches {pattern!r}; was the dataset fetched?")
    return hits[0]
