"""Resumable, verified downloads of dataset archives, and session-cookie logins for gated hosts.

:func:`download` streams a URL to ``<dest>.part``, resumes an interrupted transfer with an HTTP
``Range`` request, retries transient failures with exponential backoff, verifies size and
checksum(s) of the complete file and that it is what its name says (:mod:`tasks.datasets.content`:
an archive whose listing opens, not an HTML page), moves it onto ``dest`` atomically and writes
``<dest>.done`` holding the verified digests and kind; a rerun whose marker matches returns at once,
without network. A refused file is never marked done: an HTML page is kept as
``<dest>.rejected.html`` to be read, anything else is deleted, and the next run fetches again. A
file put at ``dest`` by hand is kept (and marked) when it passes the same checks. Google Drive links
are fetched through their direct-download URL and its virus-scan confirmation form
(:mod:`tasks.datasets.gdrive`).

:func:`login_session` logs into a Cityscapes-style site (form POST of ``username``, ``password``,
``submit=Login``) and returns the ``requests.Session`` carrying the session cookie;
:func:`credentials_from_env` reads the credentials from the environment or prompts for them;
:func:`published_md5` reads a checksum a site publishes for a file (Cityscapes' ``md5-sum`` page).

Secrets stay in memory: logs and error messages carry URLs without their query string or
user-info, never request headers, and never the password.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
import os
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests
import urllib3
from tqdm import tqdm

from soundflow.digests import file_sha256
from soundflow.errors import UserError
from soundflow.io import atomic_path, remove_path, write_json
from tasks.datasets import content, gdrive

log = logging.getLogger(__name__)

_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)", re.I)
_PASSWORD_INPUT = re.compile(r"<input\b[^>]*\bname\s*=\s*[\"']?password\b", re.I)
_MD5 = re.compile(r"[0-9a-fA-F]{32}")
_HTML_TYPES = ("text/html", "application/xhtml+xml")
CONNECT_TIMEOUT = 10.0  # seconds to open a connection: a host that drops packets must not hold a run for minutes
CONNECT_RETRIES = 2  # retries of a host that could not be reached at all (refused, unknown, no answer)
PAGE_LIMIT = 256 * 1024  # an HTML answer is read up to this size, to describe it and follow its form
MAX_CONFIRM_HOPS = 2  # download-confirmation forms followed before the answer counts as a refusal


class DownloadError(UserError, RuntimeError):
    """A download that failed for good (HTTP 4xx, or transient errors beyond the retry budget)."""


class ChecksumError(DownloadError):
    """A downloaded file whose size or digest is not the expected one."""


class ContentError(DownloadError):
    """A file that is not what its name says: an HTML page where an archive was expected, a zip that
    does not open, a JSON file that does not parse."""


class LoginError(UserError, RuntimeError):
    """A login that was refused or could not be attempted; never carries the password."""


class _RedactQuery(logging.Filter):
    """Strip query strings from urllib3's request lines (``"GET /path?token=... HTTP/1.1" 200``)."""

    _QUERY = re.compile(r"(\"[A-Z]+ [^\s?\"]*)\?[^\s\"]*")

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        if "?" in msg:
            record.msg, record.args = self._QUERY.sub(r"\1?<redacted>", msg), ()
        return True


_urllib3_log = logging.getLogger("urllib3.connectionpool")
if not any(isinstance(f, _RedactQuery) for f in _urllib3_log.filters):
    _urllib3_log.addFilter(_RedactQuery())


class _Transient(Exception):
    """A failure worth retrying (5xx, short body, inconsistent Content-Range)."""


class _HtmlAnswer(Exception):
    """An HTML page where another kind of file was expected; ``body`` holds (the start of) the page."""

    def __init__(self, body: bytes) -> None:
        super().__init__(f"HTML page ({len(body)} bytes)")
        self.body = body


_DNS_ERRNOS = {-2, -3, -5}  # socket.EAI_NONAME, EAI_AGAIN, EAI_NODATA

_TRANSIENT = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
    _Transient,
)


def safe_url(url: str) -> str:
    """``url`` fit for logs and messages: user-info, query string and fragment are dropped."""
    parts = urlsplit(url)
    netloc = parts.hostname or ""
    if parts.port is not None:
        netloc = f"{netloc}:{parts.port}"
    query = "<redacted>" if parts.query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def _scrub(text: str, url: str) -> str:
    """Remove the secret parts of ``url`` from ``text`` (e.g. a requests exception message)."""
    parts = urlsplit(url)
    for secret in (parts.query, parts.password, parts.username):
        if secret:
            text = text.replace(secret, "<redacted>")
    return text


def _never_connected(e: BaseException) -> bool:
    """Whether ``e`` is a failure to reach the host at all (refused, unknown name, connect timeout), as opposed
    to a transfer cut in the middle: retried less, since waiting rarely brings a host back."""
    if isinstance(e, requests.ConnectTimeout):
        return True
    return isinstance(e, requests.ConnectionError) and any(
        isinstance(c, urllib3.exceptions.NewConnectionError) for c in _chain(e)
    )


def _chain(e: BaseException) -> list[BaseException]:
    """``e`` and what it wraps: causes, contexts, and the ``reason`` of urllib3's MaxRetryError."""
    out: list[BaseException] = []
    todo = [e]
    while todo:
        x = todo.pop()
        if x is None or any(x is y for y in out):
            continue
        out.append(x)
        todo += [x.__cause__, x.__context__, getattr(x, "reason", None)]
        todo += [a for a in getattr(x, "args", ()) if isinstance(a, BaseException)]
    return out


def _reason(
    e: BaseException, url: str, timeout: float | tuple[float, float] | None = None, *, detail: bool = True
) -> str:
    """What went wrong with a request, in words (``cannot connect to 127.0.0.1:9 (connection refused)``), without
    secrets; ``detail=False`` never falls back on the exception's text (a login's request carries a password)."""
    host = urlsplit(url).hostname or "?"
    port = urlsplit(url).port
    where = f"{host}:{port}" if port else host
    connect = timeout[0] if isinstance(timeout, tuple) else timeout
    if isinstance(e, requests.ConnectTimeout):
        return f"no connection to {where} within {connect:g} s" if connect else f"no connection to {where} (timeout)"
    if isinstance(e, requests.ReadTimeout):
        return f"{where} stopped answering (read timeout)"
    for c in _chain(e):
        if isinstance(c, urllib3.exceptions.NameResolutionError) or (isinstance(c, OSError) and c.errno in _DNS_ERRNOS):
            return f"unknown host {host!r} (name not resolved)"
        if isinstance(c, OSError) and c.strerror and not isinstance(c, urllib3.exceptions.HTTPError):
            return f"cannot connect to {where} ({c.strerror.lower()})"
    return f"{type(e).__name__}: {_scrub(str(e), url)}" if detail else type(e).__name__


def _digests(path: Path, chunk_size: int = 1 << 20) -> tuple[int, str, str]:
    md5, sha256, n = hashlib.md5(), hashlib.sha256(), 0
    with open(path, "rb") as f:
        while chunk := f.read(chunk_size):
            md5.update(chunk)
            sha256.update(chunk)
            n += len(chunk)
    return n, md5.hexdigest(), sha256.hexdigest()


def _verify(path: Path, name: Path, md5: str | None, sha256: str | None, size: int | None) -> dict:
    """Size and digests of ``path`` (reported as ``name``); ChecksumError if any differs from the expected."""
    n, got_md5, got_sha256 = _digests(path)
    if size is not None and n != size:
        raise ChecksumError(f"{name}: size mismatch: expected {size} bytes, got {n} bytes")
    for algo, expected, actual in (("md5", md5, got_md5), ("sha256", sha256, got_sha256)):
        if expected is not None and expected != actual:
            raise ChecksumError(f"{name}: {algo} mismatch: expected {expected}, got {actual}")
    return {"size": n, "md5": got_md5, "sha256": got_sha256}


def _marker_record(marker: Path, dest: Path, md5: str | None, sha256: str | None, size: int | None) -> dict | None:
    """The marker's record when it describes ``dest`` and agrees with every expected value; else None."""
    try:
        rec = json.loads(marker.read_text(encoding="utf-8"))
        # the content, not the size: a file replaced by other bytes of the same size is not this download
        if not dest.is_file() or dest.stat().st_size != rec["size"] or file_sha256(dest) != rec["sha256"]:
            return None
        ok = all(want is None or rec[key] == want for key, want in (("md5", md5), ("sha256", sha256), ("size", size)))
        return rec if ok else None
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _norm(digest: str | None) -> str | None:
    return None if digest is None else digest.strip().lower()


def _sibling(dest: Path, suffix: str) -> Path:
    return dest.with_name(dest.name + suffix)


def is_downloaded(
    dest: str | os.PathLike[str], *, md5: str | None = None, size: int | None = None, kind: str | None = None
) -> bool:
    """Whether :func:`download` would return ``dest`` at once, without network (its marker matches)."""
    dest = Path(dest)
    rec = _marker_record(_sibling(dest, ".done"), dest, _norm(md5), None, size)
    return rec is not None and rec.get("kind") == (kind or content.kind_of(dest.name))


def _reject(path: Path, dest: Path) -> Path | None:
    """Take a refused ``path`` out of the way: an HTML page is kept as ``<dest>.rejected.html``, anything else deleted.

    The page is what a user needs to read (a login form, a quota notice) and is small; a broken archive
    can be gigabytes and tells nothing. Neither stays at a name a rerun would take for a download.
    """
    if path.is_file() and content.looks_like_html(content.head(path)):
        kept = _sibling(dest, ".rejected.html")
        os.replace(path, kept)
        return kept
    remove_path(path)
    return None


def _keep_page(page: bytes, dest: Path) -> Path:
    kept = _sibling(dest, ".rejected.html")
    with atomic_path(kept) as tmp:
        tmp.write_bytes(page)
    return kept


def _refusal(url: str, dest: Path, kind: str, what: str, kept: Path | None) -> str:
    where = f"; the page is kept as {kept}" if kept is not None else ""
    return (
        f"{safe_url(url)}: expected a {kind} file for {dest.name}, got {what}{where}; "
        "nothing was marked downloaded, so the next run fetches it again"
    )


def _refuse_in_place(dest: Path, why: str, found: str) -> None:
    kept = _reject(dest, dest)
    moved = f" (moved to {kept.name})" if kept else ""
    log.warning("%s: %s, but it is %s%s; downloading again", dest, found, why, moved)


def _adopt(dest: Path, md5: str | None, sha256: str | None, size: int | None, kind: str) -> bool:
    """Keep a file found at ``dest`` without a marker (placed by hand, or a run killed before the marker)
    when its size/checksums (where published) and its content pass; otherwise take it out of the way."""
    try:
        record = _verify(dest, dest, md5, sha256, size)
    except ChecksumError as e:
        log.warning("%s; downloading again", e)
        _reject(dest, dest)
        return False
    why = content.problem(dest, kind)
    if why is not None:
        _refuse_in_place(dest, why, "found in place")
        return False
    write_json(_sibling(dest, ".done"), {**record, "kind": kind})
    how = "checksum verified" if md5 or sha256 else f"content checked as {kind}"
    log.info("%s: found in place without a marker; %s, kept", dest, how)
    return True


def _recheck(dest: Path, record: dict, kind: str) -> bool:
    """A marker written before content checks existed (or for another kind): its digests still hold, so
    only the content is checked, once. This is where an HTML page once saved as an archive is refused."""
    why = content.problem(dest, kind)
    if why is not None:
        _refuse_in_place(dest, why, "marked downloaded")
        return False
    write_json(_sibling(dest, ".done"), {**record, "kind": kind})
    log.info("%s: content checked as %s", dest, kind)
    return True


def _reuse(dest: Path, md5: str | None, sha256: str | None, size: int | None, kind: str) -> bool:
    """Whether ``dest`` is already a verified download; clears whatever is stale or refused otherwise."""
    marker = _sibling(dest, ".done")
    if marker.is_file():
        rec = _marker_record(marker, dest, md5, sha256, size)
        if rec is not None and rec.get("kind") == kind:
            log.debug("%s already downloaded and verified", dest)
            return True
        remove_path(marker)
        if rec is not None:
            return _recheck(dest, rec, kind)
        log.info("%s: completion marker is stale; checking the file again", dest)
    if dest.exists() or dest.is_symlink():
        if dest.is_file() and _adopt(dest, md5, sha256, size, kind):
            return True
        remove_path(dest)
    return False


@dataclass(frozen=True)
class _Transfer:
    """How to fetch one file: session, retry policy, progress bar and what the body must be."""

    sess: requests.Session
    retries: int
    backoff: float
    chunk_size: int
    progress: bool
    timeout: tuple[float, float]  # connect, read
    sleep: Callable[[float], None]
    size: int | None
    kind: str
    label: str


def download(
    url: str,
    dest: str | os.PathLike[str],
    *,
    md5: str | None = None,
    sha256: str | None = None,
    size: int | None = None,
    kind: str | None = None,
    session: requests.Session | None = None,
    retries: int = 5,
    backoff: float = 1.0,
    chunk_size: int = 1 << 20,
    progress: bool = True,
    timeout: float = 60,
    sleep: Callable[[float], None] = time.sleep,
) -> Path:
    """Download ``url`` to ``dest``, resuming, retrying and verifying; return ``dest``.

    ``kind`` (:data:`tasks.datasets.content.KINDS`; default from ``dest``'s name) is what the file must
    be: an HTML answer where another kind is expected is refused with ContentError naming the URL and
    the page, unless it is a Google Drive download-confirmation page, whose form is followed.
    Transient failures (connection errors, timeouts, 5xx, short bodies) are retried up to
    ``retries`` times, sleeping ``backoff * 2**attempt`` seconds (``sleep`` is injectable) and
    resuming from what ``<dest>.part`` already holds. Other 4xx than 416 raise DownloadError at once.
    A size/digest mismatch deletes the ``.part`` and raises ChecksumError; nothing is left at ``dest``.
    A file already at ``dest`` without a marker is kept when it passes the same checks.
    """
    dest = Path(dest)
    md5, sha256 = _norm(md5), _norm(sha256)
    kind = kind or content.kind_of(dest.name)
    url = gdrive.direct_url(url)
    if _reuse(dest, md5, sha256, size, kind):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = _sibling(dest, ".part")

    own_session = session is None
    sess = session if session is not None else requests.Session()
    log.info("downloading %s -> %s", safe_url(url), dest)
    try:
        timeouts = (min(CONNECT_TIMEOUT, timeout), timeout)
        t = _Transfer(sess, retries, backoff, chunk_size, progress, timeouts, sleep, size, kind, dest.name)
        source = _fetch_confirmed(t, url, part, dest)
    finally:
        if own_session:
            sess.close()

    record = _accept(part, dest, source, md5, sha256, size, kind)
    os.replace(part, dest)
    write_json(_sibling(dest, ".done"), record)
    log.info("%s: verified (sha256 %s)", dest, record["sha256"])
    return dest


def _accept(
    part: Path, dest: Path, source: str, md5: str | None, sha256: str | None, size: int | None, kind: str
) -> dict:
    """The marker record of a complete ``part``: checksums first, then the content of its kind."""
    try:
        record = _verify(part, dest, md5, sha256, size)
    except ChecksumError:
        remove_path(part)
        raise
    why = content.problem(part, kind)
    if why is not None:
        kept = _reject(part, dest)
        raise ContentError(_refusal(source, dest, kind, why, kept))
    return {**record, "kind": kind}


def _fetch_confirmed(t: _Transfer, url: str, part: Path, dest: Path) -> str:
    """Fetch ``url`` into ``part``, following download-confirmation forms; return the URL the file came from."""
    for hop in range(MAX_CONFIRM_HOPS + 1):
        page = _fetch_retrying(t, url, part)
        if page is None:
            return url
        what = content.describe_html(page)
        follow = gdrive.confirm_url(page, url) if hop < MAX_CONFIRM_HOPS else None
        if follow is None:
            raise ContentError(_refusal(url, dest, t.kind, what, _keep_page(page, dest)))
        log.info("%s: answered with %s; following its download form", safe_url(url), what)
        url = follow
    raise AssertionError("unreachable")


def _fetch_retrying(t: _Transfer, url: str, part: Path) -> bytes | None:
    """Fetch ``url`` into ``part`` with retries; an HTML page where none is expected is returned instead."""
    shown = safe_url(url)
    attempt = 0
    while True:
        try:
            _fetch(t, url, shown, part)
            break
        except _HtmlAnswer as page:
            return page.body
        except _TRANSIENT as e:
            reason = _reason(e, url, t.timeout)
            budget = min(t.retries, CONNECT_RETRIES) if _never_connected(e) else t.retries
            if attempt >= budget:
                raise DownloadError(f"{shown}: giving up after {attempt + 1} attempt(s); last error {reason}") from None
            delay = t.backoff * 2**attempt
            log.warning("%s: %s; retry %d/%d in %.1f s", shown, reason, attempt + 1, budget, delay)
            t.sleep(delay)
            attempt += 1
        except requests.RequestException as e:  # a URL requests cannot use (bad scheme, no host), redirect loops
            raise DownloadError(f"{shown}: {_reason(e, url)}") from None
    # a server that sends no Content-Type: a small body that is an HTML page is the same refusal
    if t.kind != "html" and part.is_file() and part.stat().st_size <= PAGE_LIMIT:
        if content.looks_like_html(content.head(part)):
            page = part.read_bytes()
            remove_path(part)
            return page
    return None


def _read_page(r: requests.Response) -> bytes:
    page = b""
    for chunk in r.iter_content(chunk_size=1 << 16):
        page += chunk
        if len(page) >= PAGE_LIMIT:
            break
    return page[:PAGE_LIMIT]


def _fetch(t: _Transfer, url: str, shown: str, part: Path) -> None:
    """One attempt: append to (or restart) ``part`` until the server's body is complete."""
    have = part.stat().st_size if part.is_file() else 0
    if t.size is not None and have > t.size:
        remove_path(part)
        have = 0
    # identity: byte offsets in Range requests must be offsets into the file as stored
    headers = {"Accept-Encoding": "identity", **({"Range": f"bytes={have}-"} if have else {})}
    with t.sess.get(url, headers=headers, stream=True, timeout=t.timeout) as r:
        status = r.status_code
        if status == 416 and have:
            log.debug("%s: range not satisfiable at %d bytes; verifying the part file", shown, have)
            return
        if status >= 500:
            raise _Transient(f"HTTP {status} {r.reason}")
        if status >= 400:
            raise DownloadError(f"{shown}: HTTP {status} {r.reason}")
        ctype = r.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if ctype in _HTML_TYPES and t.kind != "html" and status in (200, 206):
            raise _HtmlAnswer(_read_page(r))  # before the part file is touched: it may hold a good prefix
        if status == 206 and have:
            m = _CONTENT_RANGE.match(r.headers.get("Content-Range", ""))
            if m is None or int(m.group(1)) != have:
                remove_path(part)
                raise _Transient(f"Content-Range {r.headers.get('Content-Range')!r} does not start at byte {have}")
            mode = "ab"
        elif status == 200:
            if have:
                log.info("%s: server ignored the Range request; restarting from zero", shown)
            mode, have = "wb", 0
        else:
            raise DownloadError(f"{shown}: unexpected HTTP {status} {r.reason}")
        _write_body(t, r, part, mode, have)


def _write_body(t: _Transfer, r: requests.Response, part: Path, mode: str, have: int) -> None:
    length = r.headers.get("Content-Length")
    length = int(length) if length and length.isdigit() else None
    total = have + length if length is not None else t.size
    # a cut connection must hand over what it delivered (urllib3 would drop its buffer on
    # IncompleteRead), so the next attempt resumes at the exact offset; the length is checked below
    if hasattr(r.raw, "enforce_content_length"):
        r.raw.enforce_content_length = False
    got = 0
    with open(part, mode) as f, tqdm(
        total=total, initial=have, unit="B", unit_scale=True, unit_divisor=1024,
        desc=t.label, disable=not t.progress, dynamic_ncols=True,
    ) as bar:  # fmt: skip
        for chunk in r.iter_content(chunk_size=t.chunk_size):
            f.write(chunk)
            got += len(chunk)
            bar.update(len(chunk))
    if length is not None and got < length:
        raise _Transient(f"incomplete body: {got} of {length} bytes")


def published_md5(url: str, session: requests.Session | None = None, *, timeout: float = 60) -> str:
    """The md5 a site publishes at ``url``, as ``md5sum`` prints it (``<md5>  <filename>``; the first token).

    Cityscapes serves one per package at ``/md5-sum/?packageID=<n>`` to a logged-in session (its own
    downloader, cityscapesScripts' ``csDownload``, reads it the same way). A redirect, an HTML page or
    anything but 32 hex digits raises DownloadError naming the URL.
    """
    shown = safe_url(url)
    sess = session if session is not None else requests.Session()
    try:
        # no redirects: a redirect here is the site sending an expired session to its login page
        r = sess.get(url, allow_redirects=False, timeout=timeout)
    except requests.RequestException as e:
        raise DownloadError(f"{shown}: md5 request failed ({_reason(e, url)})") from None
    if 300 <= r.status_code < 400:
        where = safe_url(r.headers.get("Location", "?"))
        raise DownloadError(
            f"{shown}: redirected to {where} instead of an md5 sum (not logged in, or the session expired)"
        )
    if r.status_code >= 400:
        raise DownloadError(f"{shown}: HTTP {r.status_code} {r.reason} instead of an md5 sum")
    if content.looks_like_html(r.content[:PAGE_LIMIT]):
        raise ContentError(f"{shown}: expected an md5 sum, got {content.describe_html(r.content[:PAGE_LIMIT])}")
    tokens = r.text.split()
    if not tokens or not _MD5.fullmatch(tokens[0]):
        raise DownloadError(f"{shown}: expected an md5 sum (`<md5>  <filename>`), got {r.text[:60]!r}")
    return tokens[0].lower()


def login_session(
    login_url: str,
    username: str,
    password: str,
    *,
    form: dict | None = None,
    session: requests.Session | None = None,
    timeout: float = 60,
) -> requests.Session:
    """Log in with a form POST (``username``, ``password``, ``submit=Login`` plus ``form``).

    Success means the server set a cookie and did not answer with the login form again;
    otherwise LoginError naming the URL (never the password).
    """
    sess = session if session is not None else requests.Session()
    before = {(c.domain, c.name, c.value) for c in sess.cookies}
    data = {"username": username, "password": password, "submit": "Login", **(form or {})}
    shown = safe_url(login_url)
    log.info("logging in to %s as %s", shown, username)
    try:
        r = sess.post(login_url, data=data, timeout=timeout)
    except requests.RequestException as e:
        # from None: the chained exception holds the request, and its body holds the password
        raise LoginError(f"{shown}: login request failed ({_reason(e, login_url, detail=False)})") from None
    if r.status_code >= 400:
        raise LoginError(f"{shown}: login refused with HTTP {r.status_code} {r.reason}")
    new_cookie = {(c.domain, c.name, c.value) for c in sess.cookies} - before
    if not new_cookie or _PASSWORD_INPUT.search(r.text or ""):
        raise LoginError(f"{shown}: login failed for user {username!r} (wrong username or password?)")
    log.info("logged in to %s", shown)
    return sess


def credentials_from_env(user_var: str, password_var: str, prompt: bool = True) -> tuple[str, str]:
    """``(username, password)`` from the environment, else from an interactive prompt on a TTY."""
    user, password = os.environ.get(user_var), os.environ.get(password_var)
    if user and password:
        return user, password
    if prompt and sys.stdin is not None and sys.stdin.isatty():
        user = user or input(f"{user_var}: ").strip()
        password = password or getpass.getpass(f"{password_var}: ")
        if user and password:
            return user, password
    missing = [v for v, val in ((user_var, user), (password_var, password)) if not val]
    raise LoginError(
        f"credentials missing: set the environment variable(s) {', '.join(missing)} "
        f"(both {user_var} and {password_var} are needed), or run interactively to be prompted"
    )
