"""Resumable, verified downloads of dataset archives, and session-cookie logins for gated hosts.

:func:`download` streams a URL to ``<dest>.part``, resumes an interrupted transfer with an HTTP
``Range`` request, retries transient failures with exponential backoff, verifies size and
checksum(s) of the complete file, moves it onto ``dest`` atomically and writes ``<dest>.done``
holding the verified digests; a rerun whose marker matches returns at once, without network.

:func:`login_session` logs into a Cityscapes-style site (form POST of ``username``, ``password``,
``submit=Login``) and returns the ``requests.Session`` carrying the session cookie;
:func:`credentials_from_env` reads the credentials from the environment or prompts for them.

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
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests
from tqdm import tqdm

from soundflow.io import remove_path, write_json

log = logging.getLogger(__name__)

_CONTENT_RANGE = re.compile(r"bytes\s+(\d+)-(\d+)/(\d+|\*)", re.I)
_PASSWORD_INPUT = re.compile(r"<input\b[^>]*\bname\s*=\s*[\"']?password\b", re.I)


class DownloadError(RuntimeError):
    """A download that failed for good (HTTP 4xx, or transient errors beyond the retry budget)."""


class ChecksumError(DownloadError):
    """A downloaded file whose size or digest is not the expected one."""


class LoginError(RuntimeError):
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


def _marker_matches(marker: Path, dest: Path, md5: str | None, sha256: str | None, size: int | None) -> bool:
    try:
        rec = json.loads(marker.read_text(encoding="utf-8"))
        if not dest.is_file() or dest.stat().st_size != rec["size"]:
            return False
        return all(
            want is None or rec[key] == want for key, want in (("md5", md5), ("sha256", sha256), ("size", size))
        )
    except (OSError, ValueError, KeyError, TypeError):
        return False


def _norm(digest: str | None) -> str | None:
    return None if digest is None else digest.strip().lower()


def download(
    url: str,
    dest: str | os.PathLike[str],
    *,
    md5: str | None = None,
    sha256: str | None = None,
    size: int | None = None,
    session: requests.Session | None = None,
    retries: int = 5,
    backoff: float = 1.0,
    chunk_size: int = 1 << 20,
    progress: bool = True,
    timeout: float = 60,
    sleep: Callable[[float], None] = time.sleep,
) -> Path:
    """Download ``url`` to ``dest``, resuming, retrying and verifying; return ``dest``.

    Transient failures (connection errors, timeouts, 5xx, short bodies) are retried up to
    ``retries`` times, sleeping ``backoff * 2**attempt`` seconds (``sleep`` is injectable) and
    resuming from what ``<dest>.part`` already holds. Other 4xx than 416 raise DownloadError at once.
    A size/digest mismatch deletes the ``.part`` and raises ChecksumError; nothing is left at ``dest``.
    """
    dest = Path(dest)
    md5, sha256 = _norm(md5), _norm(sha256)
    part = dest.with_name(dest.name + ".part")
    marker = dest.with_name(dest.name + ".done")
    shown = safe_url(url)

    if marker.is_file():
        if _marker_matches(marker, dest, md5, sha256, size):
            log.debug("%s already downloaded and verified", dest)
            return dest
        log.info("%s: completion marker is stale; downloading again", dest)
        remove_path(marker)
    if dest.exists() or dest.is_symlink():
        # no (valid) marker: the file is unverified, e.g. a run killed between rename and marker
        if dest.is_file() and (md5 or sha256):
            try:
                write_json(marker, _verify(dest, dest, md5, sha256, size))
                log.info("%s: existing file verified", dest)
                return dest
            except ChecksumError as e:
                log.warning("%s; downloading again", e)
        remove_path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)

    own_session = session is None
    sess = session if session is not None else requests.Session()
    log.info("downloading %s -> %s", shown, dest)
    try:
        attempt = 0
        while True:
            try:
                _fetch(sess, url, shown, part, size, chunk_size, progress, timeout, dest.name)
                break
            except _TRANSIENT as e:
                reason = f"{type(e).__name__}: {_scrub(str(e), url)}"
                if attempt >= retries:
                    raise DownloadError(f"{shown}: giving up after {attempt + 1} attempt(s); last error {reason}") from None
                delay = backoff * 2**attempt
                log.warning("%s: %s; retry %d/%d in %.1f s", shown, reason, attempt + 1, retries, delay)
                sleep(delay)
                attempt += 1
    finally:
        if own_session:
            sess.close()

    try:
        record = _verify(part, dest, md5, sha256, size)
    except ChecksumError:
        remove_path(part)
        raise
    os.replace(part, dest)
    write_json(marker, record)
    log.info("%s: verified (sha256 %s)", dest, record["sha256"])
    return dest


def _fetch(
    sess: requests.Session,
    url: str,
    shown: str,
    part: Path,
    size: int | None,
    chunk_size: int,
    progress: bool,
    timeout: float,
    label: str,
) -> None:
    """One attempt: append to (or restart) ``part`` until the server's body is complete."""
    have = part.stat().st_size if part.is_file() else 0
    if size is not None and have > size:
        remove_path(part)
        have = 0
    # identity: byte offsets in Range requests must be offsets into the file as stored
    headers = {"Accept-Encoding": "identity", **({"Range": f"bytes={have}-"} if have else {})}
    with sess.get(url, headers=headers, stream=True, timeout=timeout) as r:
        status = r.status_code
        if status == 416 and have:
            log.debug("%s: range not satisfiable at %d bytes; verifying the part file", shown, have)
            return
        if status >= 500:
            raise _Transient(f"HTTP {status} {r.reason}")
        if status >= 400:
            raise DownloadError(f"{shown}: HTTP {status} {r.reason}")
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
        length = r.headers.get("Content-Length")
        length = int(length) if length and length.isdigit() else None
        total = have + length if length is not None else size
        # a cut connection must hand over what it delivered (urllib3 would drop its buffer on
        # IncompleteRead), so the next attempt resumes at the exact offset; the length is checked below
        if hasattr(r.raw, "enforce_content_length"):
            r.raw.enforce_content_length = False
        got = 0
        with open(part, mode) as f, tqdm(
            total=total, initial=have, unit="B", unit_scale=True, unit_divisor=1024,
            desc=label, disable=not progress, dynamic_ncols=True,
        ) as bar:  # fmt: skip
            for chunk in r.iter_content(chunk_size=chunk_size):
                f.write(chunk)
                got += len(chunk)
                bar.update(len(chunk))
        if length is not None and got < length:
            raise _Transient(f"incomplete body: {got} of {length} bytes")


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
        raise LoginError(f"{shown}: login request failed ({type(e).__name__})") from None
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
