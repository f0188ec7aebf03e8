"""A local HTTP server standing in for the corpora's hosts, and tiny archives in their layouts.

Shared by the registry, download and ``datasets`` stage tests; the fixture ``server`` is in
``tests/tasks/datasets/conftest.py``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import hashlib
import io
import tarfile
import threading
import wave
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import numpy as np

from tasks.datasets import registry

USER = "bob"
PASSWORD = "pw-Xy7!registry-secret-5521"
TOKEN = "sess-9c2e"


def wav_bytes(seconds: float = 0.05, sr: int = 8000) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sr)
        w.writeframes(np.zeros(int(seconds * sr), dtype=np.int16).tobytes())
    return buf.getvalue()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    """The same bytes on every call (no member holds the current time), as :func:`targz_bytes`."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data)
    return buf.getvalue()


def targz_bytes(members: dict[str, bytes]) -> bytes:
    """The same bytes on every call: gzip's header holds no time (pytest-xdist's workers must agree on the test
    ids these bytes appear in)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz:
        gz.write(raw.getvalue())
    return buf.getvalue()


def md5_hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


ESC_CSV = (
    "filename,fold,target,category,esc10,src_file,take\n"
    "1-100-A-0.wav,1,0,dog,True,100,A\n"
    "2-200-A-1.wav,2,1,rooster,False,200,A\n"
    "3-300-A-0.wav,3,0,dog,True,300,A\n"
)
US8K_CSV = (
    "slice_file_name,fsID,start,end,salience,fold,classID,class\n"
    "100-3-0-0.wav,100,0.0,4.0,1,1,3,dog_bark\n"
    "200-1-0-0.wav,200,1.5,2.25,2,2,1,car_horn\n"
)


def esc50_zip() -> bytes:
    files = {"ESC-50-master/meta/esc50.csv": ESC_CSV.encode(), "ESC-50-master/README.md": b"ESC-50\n"}
    for name in ("1-100-A-0.wav", "2-200-A-1.wav", "3-300-A-0.wav"):
        files[f"ESC-50-master/audio/{name}"] = wav_bytes()
    return zip_bytes(files)


def us8k_tgz() -> bytes:
    return targz_bytes(
        {
            "UrbanSound8K/metadata/UrbanSound8K.csv": US8K_CSV.encode(),
            "UrbanSound8K/audio/fold1/100-3-0-0.wav": wav_bytes(),
            "UrbanSound8K/audio/fold2/200-1-0-0.wav": wav_bytes(),
        }
    )


DRIVE_WARNING = """<!DOCTYPE html><html><head><title>Google Drive - Virus scan warning</title></head><body>
<div class="uc-main"><p class="uc-warning-caption">Google Drive can't scan this file for viruses.</p>
<form id="download-form" action="{action}" method="get">
<input type="submit" id="uc-download-link" value="Download anyway"/>
<input type="hidden" name="id" value="{file_id}"><input type="hidden" name="export" value="download">
<input type="hidden" name="confirm" value="t"><input type="hidden" name="uuid" value="{uuid}">
</form></div></body></html>"""


def drive_uuid(file_id: str) -> str:
    return f"uuid-{file_id[::-1]}"


@dataclass
class Server:
    base: str
    files: dict[str, bytes] = field(default_factory=dict)  # "path?query" -> body
    protected: set[str] = field(default_factory=set)
    requests: list[tuple[str, str, str | None]] = field(default_factory=list)  # method, path, cookie
    content_types: dict[str, str] = field(default_factory=dict)  # "path?query" -> Content-Type header
    # Google Drive stand-in at /download: file id -> body, served only once the warning's form is
    # submitted (its uuid); before that, the virus-scan warning page, as Drive does for large files
    drive: dict[str, bytes] = field(default_factory=dict)

    def drive_answer(self, path: str) -> tuple[bytes, str] | None:
        u = urlsplit(path)
        q = {k: v[0] for k, v in parse_qs(u.query).items()}
        if u.path != "/download" or q.get("id") not in self.drive:
            return None
        if q.get("uuid") == drive_uuid(q["id"]) and q.get("confirm") == "t":
            return self.drive[q["id"]], "application/octet-stream"
        page = DRIVE_WARNING.format(action=f"{self.base}/download", file_id=q["id"], uuid=drive_uuid(q["id"]))
        return page.encode(), "text/html; charset=utf-8"


@contextlib.contextmanager
def running_server() -> Iterator[Server]:
    state = Server(base="")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # keep test output quiet
            pass

        def do_POST(self) -> None:
            n = int(self.headers.get("Content-Length") or 0)
            form = parse_qs(self.rfile.read(n).decode())
            state.requests.append(("POST", urlsplit(self.path).path, self.headers.get("Cookie")))
            ok = (
                form.get("username") == [USER]
                and form.get("password") == [PASSWORD]
                and form.get("submit") == ["Login"]
            )
            body = b"<html>welcome</html>" if ok else b'<form><input type="password" name="password"></form>'
            self.send_response(200)
            if ok:
                self.send_header("Set-Cookie", f"PHPSESSID={TOKEN}; Path=/")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            state.requests.append(("GET", self.path, self.headers.get("Cookie")))
            body, ctype = state.files.get(self.path), state.content_types.get(self.path)
            if self.path in state.protected and f"PHPSESSID={TOKEN}" not in (self.headers.get("Cookie") or ""):
                body = None
            if body is None and (drive := state.drive_answer(self.path)) is not None:
                body, ctype = drive
            if body is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(200)
            if ctype:
                self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def serve_files(server: Server, name: str, bodies: list[bytes]) -> None:
    """Serve ``bodies`` at the paths of ``name``'s registered URLs (any host: fetch rebases them)."""
    info = registry.get(name)
    assert len(bodies) == len(info.files)
    for f, body in zip(info.files, bodies):
        u = urlsplit(f.url)
        server.files[u.path + (f"?{u.query}" if u.query else "")] = body


def serve_corpus(
    server: Server, name: str, bodies: list[bytes], monkeypatch, md5s: list[str | None] | None = None
) -> None:
    """:func:`serve_files`, and patch the registered md5s/sizes to match (in this process only)."""
    serve_files(server, name, bodies)
    info = registry.get(name)
    files = [
        dataclasses.replace(f, md5=md5, size=None) for f, md5 in zip(info.files, md5s or [md5_hex(b) for b in bodies])
    ]
    monkeypatch.setitem(registry._REGISTRY, name, dataclasses.replace(info, files=tuple(files)))


def serve_cityscapes(server: Server, packages: list[bytes], md5s: list[str]) -> None:
    """The two Cityscapes packages behind the login, with the md5 sums its ``md5-sum`` page publishes."""
    serve_files(server, "cityscapes", packages)
    for f, md5 in zip(registry.get("cityscapes").files, md5s):
        u = urlsplit(f.md5_url)
        path = f"{u.path}?{u.query}"
        server.files[path] = f"{md5}  {f.filename}\n".encode()
        server.protected.add(path)
    server.protected.update(f"{urlsplit(f.url).path}?{urlsplit(f.url).query}" for f in registry.get("cityscapes").files)
