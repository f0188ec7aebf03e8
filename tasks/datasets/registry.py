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
extracted. Every file is checked to be what its name (or ``RemoteFile.kind``) says before it counts
as downloaded (:mod:`tasks.datasets.content`), so a file published without a checksum cannot be an
error page; a file put into ``downloads/`` by hand is kept when it passes the same checks. Google
Drive links go through Drive's direct-download URL (:mod:`tasks.datasets.gdrive`). ``base_url``
replaces scheme and host of every URL (download, md5 and login URLs alike, after the Drive rewrite),
which is how tests point the real code at a local server. A login happens only when some file still
has to be fetched, so a rerun over complete downloads needs no credentials.
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

from soundflow.digests import file_sha256
from soundflow.errors import UserError
from soundflow.io import atomic_path
from tasks.datasets import content, gdrive
from tasks.datasets.download import (
    credentials_from_env,
    download,
    is_downloaded,
    login_session,
    published_md5,
    safe_url,
)
from tasks.datasets.extract import MARKER, extract

log = logging.getLogger(__name__)

ARCHIVE_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar", ".zip")

CITYSCAPES_LOGIN_URL = "https://www.cityscapes-dataset.com/login/"
LOGINS = {"cityscapes": (CITYSCAPES_LOGIN_URL, "CITYSCAPES_USERNAME", "CITYSCAPES_PASSWORD")}


@dataclass(frozen=True)
class RemoteFile:
    """One published file: ``url``, local ``filename``, expected ``size`` and ``md5`` (None: not published).

    ``kind``: what the file must be (:data:`tasks.datasets.content.KINDS`); None infers it from
    ``filename``. ``md5_url``: where the site publishes the md5 at download time (``md5sum`` format,
    fetched with the login session), for sites that publish one but not in a form to record here.
    """

    url: str
    filename: str
    size: int | None
    md5: str | None
    kind: str | None = None
    md5_url: str | None = None

    def __post_init__(self) -> None:
        if self.kind is not None and self.kind not in content.KINDS:
            raise ValueError(f"{self.filename}: unknown kind {self.kind!r}; known: {', '.join(content.KINDS)}")

    @property
    def expected_kind(self) -> str:
        return self.kind or content.kind_of(self.filename)


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


class UnknownDataset(UserError, KeyError):
    """A dataset name the registry does not know (a KeyError too, as it was)."""

    def __str__(self) -> str:  # KeyError's would quote the message
        return str(self.args[0])


def get(name: str) -> DatasetInfo:
    _load()
    try:
        return _REGISTRY[name]
    except KeyError:
        raise UnknownDataset(f"unknown dataset {name!r}; available: {', '.join(available())}") from None


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
    pending = [
        f for f in info.files if not is_downloaded(downloads / f.filename, md5=f.md5, size=f.size, kind=f.expected_kind)
    ]
    if pending and info.login is not None and session is None:
        session = _login(info.login, base_url)
    archives = [(f, _download(name, f, downloads, base_url, session, progress)) for f in info.files]
    for f, path in archives:
        target = _target(folder, f)
        if archive_stem(f.filename) is not None:
            extract(path, target)
        elif file_sha256(target) != file_sha256(path):  # missing, or not a copy of this download
            with atomic_path(target) as tmp:
                shutil.copyfile(path, tmp)
    log.info("%s ready in %s", name, folder)
    return folder


def _login(login: str, base_url: str | None):
    login_url, user_var, pw_var = LOGINS[login]
    user, password = credentials_from_env(user_var, pw_var)
    session = login_session(rebase(login_url, base_url), user, password)
    del password
    return session


def _download(name: str, f: RemoteFile, downloads: Path, base_url: str | None, session, progress: bool) -> Path:
    """One file of ``name`` into ``downloads/``, checked against what is published about it."""
    dest = downloads / f.filename
    url = rebase(gdrive.direct_url(f.url), base_url)
    md5 = f.md5
    if not is_downloaded(dest, md5=md5, size=f.size, kind=f.expected_kind):
        # a published md5 is needed only to verify a new download or a file placed by hand
        if md5 is None and f.md5_url is not None:
            md5 = published_md5(rebase(f.md5_url, base_url), session)
        if md5 is None and f.size is None:
            log.warning(
                "%s: %s publishes no checksum; only its content is checked (a %s file)",
                name,
                safe_url(url),
                f.expected_kind,
            )
    return download(url, dest, md5=md5, size=f.size, kind=f.expected_kind, session=session, progress=progress)


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
    hits = sorted(
        (p for p in Path(root).glob(pattern) if "downloads" not in p.relative_to(root).parts[:1]),
        key=lambda p: (len(p.parts), str(p)),
    )
    if not hits:
        raise FileNotFoundError(f"{root}: nothing matches {pattern!r}; was the dataset fetched?")
    return hits[0]
