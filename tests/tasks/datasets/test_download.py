"""Tests for tasks.datasets.download against a local threaded HTTP server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
import requests

from tasks.datasets import download as dl
from tasks.datasets.download import (
    ChecksumError,
    ContentError,
    DownloadError,
    LoginError,
    credentials_from_env,
    download,
    login_session,
    published_md5,
)

USER = "alice"
PASSWORD = "pw-Zq8#kV2!unique-7731"
TOKEN = "tok-4f1d9e"
LOGIN_FORM = b'<html><form method="post"><input name="username"><input type="password" name="password"></form></html>'


@dataclass
class Log:
    method: str
    path: str
    range: str | None
    cookie: str | None


@dataclass
class Server:
    base: str
    files: dict[str, bytes]
    protected: set[str] = field(default_factory=set)
    cut_first: dict[str, int] = field(default_factory=dict)  # path -> send half the body then close, N times
    fail_first: dict[str, int] = field(default_factory=dict)  # path -> HTTP 500, N times
    corrupt: set[str] = field(default_factory=set)  # paths served with one byte flipped
    no_range: set[str] = field(default_factory=set)  # paths that ignore Range and answer 200
    types: dict[str, str] = field(default_factory=dict)  # path -> Content-Type header (none by default)
    log: list[Log] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return self.base + path

    def hits(self, path: str) -> list[Log]:
        return [e for e in self.log if e.path == path]


def _handler(srv: Server) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep test output quiet
            pass

        def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            path = urlsplit(self.path).path
            with srv.lock:
                srv.log.append(Log("POST", path, None, self.headers.get("Cookie")))
            form = parse_qs(self.rfile.read(int(self.headers.get("Content-Length", 0))).decode())
            if path == "/login-nocookie":  # claims success but sets no session cookie
                return self._send(200, b"<html>Welcome</html>")
            if path != "/login":
                return self._send(404)
            ok = (
                form.get("username") == [USER]
                and form.get("password") == [PASSWORD]
                and form.get("submit") == ["Login"]
            )
            if ok:
                return self._send(200, b"<html>Welcome, alice</html>", {"Set-Cookie": f"session={TOKEN}; Path=/"})
            # like many sites, a cookie is set even when the login is refused; the form comes back
            return self._send(200, LOGIN_FORM, {"Set-Cookie": "csrftoken=abc; Path=/"})

        def do_GET(self) -> None:
            path = urlsplit(self.path).path
            rng = self.headers.get("Range")
            with srv.lock:
                srv.log.append(Log("GET", path, rng, self.headers.get("Cookie")))
                cut = srv.cut_first.get(path, 0) > 0
                if cut:
                    srv.cut_first[path] -= 1
                fail = srv.fail_first.get(path, 0) > 0
                if fail:
                    srv.fail_first[path] -= 1
            if path not in srv.files:
                return self._send(404, b"not found")
            if path in srv.protected:
                cookie = SimpleCookie(self.headers.get("Cookie", ""))
                if "session" not in cookie or cookie["session"].value != TOKEN:
                    return self._send(403, b"login required")
            if fail:
                return self._send(500, b"boom")
            body = srv.files[path]
            if path in srv.corrupt:
                body = bytes([body[0] ^ 0xFF]) + body[1:]
            status, headers, start = 200, {}, 0
            if rng and path not in srv.no_range:
                start = int(rng.removeprefix("bytes=").split("-")[0])
                if start >= len(body):
                    return self._send(416, b"", {"Content-Range": f"bytes */{len(body)}"})
                status = 206
                headers["Content-Range"] = f"bytes {start}-{len(body) - 1}/{len(body)}"
            chunk = body[start:]
            if path in srv.types:
                headers["Content-Type"] = srv.types[path]
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(chunk)))
            self.end_headers()
            if cut:
                self.wfile.write(chunk[: len(chunk) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(chunk)

    return Handler


def _blob(seed: int, n: int) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, n, dtype=np.uint8).tobytes()


@pytest.fixture
def server() -> Iterator[Server]:
    files = {"/a.bin": _blob(0, 300_000), "/b.bin": _blob(1, 123_457), "/private/c.bin": _blob(2, 50_000)}
    srv = Server(base="", files=files, protected={"/private/c.bin"})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(srv))
    httpd.daemon_threads = True
    srv.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield srv
    httpd.shutdown()
    httpd.server_close()
    thread.join(5)


def _md5(b: bytes) -> str:
    return hashlib.md5(b).hexdigest()


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def test_plain_download_verifies_md5_and_sha256(server: Server, tmp_path: Path) -> None:
    data = server.files["/a.bin"]
    dest = tmp_path / "out" / "a.bin"
    got = download(
        server.url("/a.bin"), dest, md5=_md5(data), sha256=_sha(data).upper(), size=len(data), progress=False
    )
    assert got == dest and dest.read_bytes() == data
    assert not dest.with_name("a.bin.part").exists()
    marker = json.loads(dest.with_name("a.bin.done").read_text())
    assert marker == {"size": len(data), "md5": _md5(data), "sha256": _sha(data), "kind": "binary"}
    assert [e.range for e in server.hits("/a.bin")] == [None]


def test_resume_after_cut_transfer_uses_range(server: Server, tmp_path: Path) -> None:
    data = server.files["/a.bin"]
    server.cut_first["/a.bin"] = 1
    sleeps: list[float] = []
    dest = tmp_path / "a.bin"
    download(server.url("/a.bin"), dest, sha256=_sha(data), progress=False, chunk_size=1 << 14, sleep=sleeps.append)
    assert dest.read_bytes() == data
    assert [e.range for e in server.hits("/a.bin")] == [None, f"bytes={len(data) // 2}-"]
    assert sleeps == [1.0]


def test_rerun_after_interruption_resumes_part_file(server: Server, tmp_path: Path) -> None:
    data = server.files["/b.bin"]
    server.cut_first["/b.bin"] = 1
    dest = tmp_path / "b.bin"
    with pytest.raises(DownloadError, match="giving up after 1 attempt"):
        download(server.url("/b.bin"), dest, md5=_md5(data), retries=0, progress=False, sleep=lambda s: None)
    part = dest.with_name("b.bin.part")
    assert part.read_bytes() == data[: len(data) // 2] and not dest.exists()
    download(server.url("/b.bin"), dest, md5=_md5(data), progress=False, sleep=lambda s: None)
    assert dest.read_bytes() == data and not part.exists()
    assert server.hits("/b.bin")[-1].range == f"bytes={len(data) // 2}-"


def test_complete_part_with_416_goes_to_verification(server: Server, tmp_path: Path) -> None:
    data = server.files["/b.bin"]
    dest = tmp_path / "b.bin"
    dest.with_name("b.bin.part").write_bytes(data)
    download(server.url("/b.bin"), dest, sha256=_sha(data), progress=False)
    assert dest.read_bytes() == data
    assert [e.range for e in server.hits("/b.bin")] == [f"bytes={len(data)}-"]


def test_200_reply_to_range_restarts_from_zero(server: Server, tmp_path: Path) -> None:
    data = server.files["/b.bin"]
    server.no_range.add("/b.bin")
    dest = tmp_path / "b.bin"
    dest.with_name("b.bin.part").write_bytes(b"\0" * 1000)  # stale garbage
    download(server.url("/b.bin"), dest, sha256=_sha(data), progress=False)
    assert dest.read_bytes() == data
    assert server.hits("/b.bin")[0].range == "bytes=1000-"


def test_retries_500_with_exponential_backoff(server: Server, tmp_path: Path) -> None:
    data = server.files["/b.bin"]
    server.fail_first["/b.bin"] = 3
    sleeps: list[float] = []
    download(server.url("/b.bin"), tmp_path / "b.bin", md5=_md5(data), backoff=0.5, progress=False, sleep=sleeps.append)
    assert sleeps == [0.5, 1.0, 2.0]
    assert len(server.hits("/b.bin")) == 4
    assert (tmp_path / "b.bin").read_bytes() == data


def test_gives_up_after_retry_budget(server: Server, tmp_path: Path) -> None:
    server.fail_first["/b.bin"] = 10
    sleeps: list[float] = []
    with pytest.raises(DownloadError, match=r"giving up after 3 attempt\(s\).*HTTP 500"):
        download(server.url("/b.bin"), tmp_path / "b.bin", retries=2, progress=False, sleep=sleeps.append)
    assert sleeps == [1.0, 2.0] and len(server.hits("/b.bin")) == 3
    assert not (tmp_path / "b.bin").exists()


def test_wrong_checksum_raises_and_leaves_nothing(server: Server, tmp_path: Path) -> None:
    data = server.files["/a.bin"]
    server.corrupt.add("/a.bin")
    dest = tmp_path / "a.bin"
    with pytest.raises(ChecksumError) as exc:
        download(server.url("/a.bin"), dest, sha256=_sha(data), progress=False)
    served = bytes([data[0] ^ 0xFF]) + data[1:]
    msg = str(exc.value)
    assert str(dest) in msg and _sha(data) in msg and _sha(served) in msg
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_wrong_size_raises_checksum_error(server: Server, tmp_path: Path) -> None:
    data = server.files["/b.bin"]
    with pytest.raises(ChecksumError, match=f"expected {len(data) + 1} bytes, got {len(data)} bytes"):
        download(server.url("/b.bin"), tmp_path / "b.bin", size=len(data) + 1, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_marker_makes_rerun_a_noop(server: Server, tmp_path: Path) -> None:
    data = server.files["/b.bin"]
    dest = tmp_path / "b.bin"
    download(server.url("/b.bin"), dest, sha256=_sha(data), progress=False)
    hits = len(server.log)
    assert download(server.url("/b.bin"), dest, sha256=_sha(data), progress=False) == dest
    assert len(server.log) == hits
    # a marker recording another digest than now expected is stale: the file is fetched again
    with pytest.raises(ChecksumError):
        download(server.url("/b.bin"), dest, sha256="0" * 64, progress=False)
    assert len(server.log) == hits + 1 and not dest.exists()


def test_verified_file_without_marker_is_adopted(server: Server, tmp_path: Path) -> None:
    data = server.files["/b.bin"]
    dest = tmp_path / "b.bin"
    dest.write_bytes(data)  # e.g. a run killed between the rename and the marker
    download(server.url("/b.bin"), dest, md5=_md5(data), progress=False)
    assert server.log == [] and dest.with_name("b.bin.done").is_file()


PAGE = b"<!DOCTYPE html>\n<html><head><title>Sign in &amp; continue</title></head><body>...</body></html>"


def _zip_bytes() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("ds/meta.csv", "a,b\n1,2\n")
    return buf.getvalue()


def test_html_answer_where_a_zip_is_expected_is_refused(server: Server, tmp_path: Path) -> None:
    server.files["/data.zip"] = PAGE
    server.types["/data.zip"] = "text/html; charset=utf-8"
    dest = tmp_path / "data.zip"
    with pytest.raises(ContentError) as exc:
        download(server.url("/data.zip"), dest, progress=False, sleep=lambda s: None)
    msg = str(exc.value)
    assert server.url("/data.zip") in msg and "expected a zip file" in msg and "'Sign in & continue'" in msg
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.zip.rejected.html"]
    assert len(server.hits("/data.zip")) == 1  # a refusal is no transient error: not retried

    # no marker: the next call asks the server again
    server.files["/data.zip"] = archive = _zip_bytes()
    del server.types["/data.zip"]
    download(server.url("/data.zip"), dest, progress=False)
    assert dest.read_bytes() == archive and len(server.hits("/data.zip")) == 2


def test_html_answer_leaves_a_resumable_part_alone(server: Server, tmp_path: Path) -> None:
    data = server.files["/a.bin"]
    server.types["/a.bin"] = "text/html"
    part = tmp_path / "a.bin.part"
    part.write_bytes(data[:1000])
    with pytest.raises(ContentError, match="expected a binary file for a.bin, got an HTML page"):
        download(server.url("/a.bin"), tmp_path / "a.bin", progress=False)
    assert part.read_bytes() == data[:1000]  # the prefix is still good for a resumed transfer
    del server.types["/a.bin"]
    download(server.url("/a.bin"), tmp_path / "a.bin", sha256=_sha(data), progress=False)
    assert server.hits("/a.bin")[-1].range == "bytes=1000-"


def test_html_is_accepted_where_html_is_expected(server: Server, tmp_path: Path) -> None:
    server.files["/index.html"] = PAGE
    server.types["/index.html"] = "text/html"
    assert download(server.url("/index.html"), tmp_path / "index.html", progress=False).read_bytes() == PAGE
    assert json.loads((tmp_path / "index.html.done").read_text())["kind"] == "html"


def test_archive_that_does_not_open_is_refused_and_deleted(server: Server, tmp_path: Path) -> None:
    archive = _zip_bytes()
    server.files["/cut.zip"] = archive[: len(archive) - 30]  # no end-of-central-directory record
    with pytest.raises(ContentError, match=r"expected a zip file for cut\.zip, got an unreadable zip archive"):
        download(server.url("/cut.zip"), tmp_path / "cut.zip", progress=False)
    assert list(tmp_path.iterdir()) == []  # a broken archive tells nothing: not kept

    server.files["/x.tar.gz"] = archive  # a zip under a .tar.gz name is no tar either
    with pytest.raises(ContentError, match=r"got no tar archive \(starts with b[\"']PK"):  # repr quotes by content
        download(server.url("/x.tar.gz"), tmp_path / "x.tar.gz", progress=False)


def test_marker_of_an_earlier_version_is_content_checked_once(server: Server, tmp_path: Path) -> None:
    dest = tmp_path / "data.zip"
    dest.write_bytes(archive := _zip_bytes())
    marker = tmp_path / "data.zip.done"
    marker.write_text(json.dumps({"size": len(archive), "md5": _md5(archive), "sha256": _sha(archive)}))
    download(server.url("/data.zip"), dest, progress=False)  # not served: the file is kept as it is
    assert server.log == [] and json.loads(marker.read_text())["kind"] == "zip"


def test_published_md5_reads_an_md5sum_line_and_refuses_anything_else(server: Server) -> None:
    digest = "9AA69802BBF37FB986F71EC1483A196E"
    server.files["/md5"] = f"{digest}  UrbanSound8K.tar.gz\n".encode()
    assert published_md5(server.url("/md5")) == digest.lower()
    server.files["/md5-login"] = LOGIN_FORM
    with pytest.raises(ContentError, match=r"/md5-login: expected an md5 sum, got a login page"):
        published_md5(server.url("/md5-login"))
    server.files["/md5-junk"] = b"no sum here\n"
    with pytest.raises(DownloadError, match=r"/md5-junk: expected an md5 sum .* got 'no sum here"):
        published_md5(server.url("/md5-junk"))
    with pytest.raises(DownloadError, match=r"/md5-gone: HTTP 404"):
        published_md5(server.url("/md5-gone"))


def test_404_fails_at_once_naming_the_url(server: Server, tmp_path: Path) -> None:
    sleeps: list[float] = []
    url = server.url("/missing.zip")
    with pytest.raises(DownloadError, match="404") as exc:
        download(url, tmp_path / "missing.zip", progress=False, sleep=sleeps.append)
    assert url in str(exc.value)
    assert sleeps == [] and len(server.hits("/missing.zip")) == 1
    assert list(tmp_path.iterdir()) == []


def test_query_string_secrets_stay_out_of_logs(
    server: Server, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    server.fail_first["/b.bin"] = 1
    secret = "querysecret-91xq"
    download(server.url(f"/b.bin?token={secret}"), tmp_path / "b.bin", progress=False, sleep=lambda s: None)
    assert server.url("/b.bin?<redacted>") in caplog.text
    assert secret not in caplog.text
    with pytest.raises(DownloadError) as exc:
        download(server.url(f"/nope?token={secret}"), tmp_path / "nope", progress=False)
    assert secret not in str(exc.value) and "/nope" in str(exc.value)


def test_progress_bar_in_bytes(server: Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    download(server.url("/a.bin"), tmp_path / "a.bin", progress=True)
    err = capsys.readouterr().err
    assert "a.bin" in err and "B/s" in err and "293k" in err.lower()


def _all_bytes(root: Path) -> list[tuple[Path, bytes]]:
    return [(p, p.read_bytes()) for p in root.rglob("*") if p.is_file()]


def test_login_flow_never_leaks_the_password(
    server: Server, tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)  # includes urllib3's request logging
    data = server.files["/private/c.bin"]
    url = server.url("/private/c.bin")

    with pytest.raises(DownloadError, match="403"):  # not logged in yet
        download(url, tmp_path / "c.bin", progress=False)

    with pytest.raises(LoginError) as bad:
        login_session(server.url("/login"), USER, PASSWORD + "x")
    assert server.url("/login") in str(bad.value)

    sess = login_session(server.url("/login"), USER, PASSWORD)
    assert sess.cookies.get("session") == TOKEN
    download(url, tmp_path / "c.bin", md5=_md5(data), session=sess, progress=True)
    assert (tmp_path / "c.bin").read_bytes() == data
    assert server.hits("/private/c.bin")[-1].cookie is not None

    with pytest.raises(LoginError) as refused:  # unreachable host: the chained request must not surface
        login_session("http://127.0.0.1:9/login", USER, PASSWORD, session=requests.Session())
    assert refused.value.__cause__ is None and refused.value.__suppress_context__

    for exc in (bad.value, refused.value):
        assert PASSWORD not in str(exc) and PASSWORD not in repr(exc.args)
    for rec in caplog.records:
        assert PASSWORD not in rec.getMessage() and PASSWORD not in repr(rec.args)
    assert PASSWORD not in caplog.text
    out, err = capsys.readouterr()
    assert PASSWORD not in out and PASSWORD not in err and "c.bin" in err  # the progress bar did write
    files = _all_bytes(tmp_path)
    assert files and all(PASSWORD.encode() not in b for _, b in files)


def test_login_requires_a_session_cookie_and_no_login_form(server: Server) -> None:
    with pytest.raises(LoginError, match="login failed"):
        login_session(server.url("/login-nocookie"), USER, PASSWORD)
    with pytest.raises(LoginError, match="HTTP 404"):
        login_session(server.url("/not-login"), USER, PASSWORD)


def test_credentials_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SF_USER", USER)
    monkeypatch.setenv("SF_PASS", PASSWORD)
    assert credentials_from_env("SF_USER", "SF_PASS") == (USER, PASSWORD)

    monkeypatch.delenv("SF_PASS")
    with pytest.raises(LoginError, match="SF_PASS") as exc:
        credentials_from_env("SF_USER", "SF_PASS", prompt=False)
    assert "SF_USER" in str(exc.value)

    class Tty:
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(dl.sys, "stdin", Tty())
    monkeypatch.setattr(dl.getpass, "getpass", lambda prompt: PASSWORD)
    monkeypatch.setattr("builtins.input", lambda prompt: pytest.fail("username is set, no prompt expected"))
    assert credentials_from_env("SF_USER", "SF_PASS") == (USER, PASSWORD)
    # not a TTY: no prompt, a clear error
    monkeypatch.setattr(dl.sys, "stdin", None)
    with pytest.raises(LoginError, match="SF_PASS"):
        credentials_from_env("SF_USER", "SF_PASS")


def test_unreachable_host_is_retried_briefly_then_named(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port just closed: connections to it are refused
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sleeps: list[float] = []
    with pytest.raises(DownloadError) as exc:
        download(f"http://127.0.0.1:{port}/a.zip", tmp_path / "a.zip", retries=5, progress=False, sleep=sleeps.append)
    assert sleeps == [1.0, 2.0]  # a host that cannot be reached gets dl.CONNECT_RETRIES retries, not 5
    assert str(exc.value) == (
        f"http://127.0.0.1:{port}/a.zip: giving up after 3 attempt(s); "
        f"last error cannot connect to 127.0.0.1:{port} (connection refused)"
    )
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("url", ["ftp://127.0.0.1/a.zip", "http:///a.zip"])
def test_url_requests_cannot_use_fails_at_once(url: str, tmp_path: Path) -> None:
    sleeps: list[float] = []
    with pytest.raises(DownloadError, match="Invalid"):
        download(url, tmp_path / "a.zip", progress=False, sleep=sleeps.append)
    assert sleeps == []
