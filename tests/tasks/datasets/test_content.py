"""Tests for tasks.datasets.content (what a download must be) and tasks.datasets.gdrive (Drive links)."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest

from tasks.datasets import content, gdrive
from tests.helpers.corpus_server import DRIVE_WARNING, targz_bytes, wav_bytes, zip_bytes

DRIVE_ID = "1FjKwe79e0u96vdjIVwfRQ1V6SoDHe7kK"
NOISE = np.random.default_rng(0).integers(0, 256, 20_000, dtype=np.uint8).tobytes()  # incompressible


def _tar(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


TAR = _tar({"x/a.csv": b"1\n", "x/b.bin": NOISE})


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("ESC-50-master.zip", "zip"),
        ("UrbanSound8K.tar.gz", "tar"),
        ("a.TGZ", "tar"),
        ("b.tar.xz", "tar"),
        ("c.tar", "tar"),
        ("ontology.json", "json"),
        ("eval_segments.csv", "text"),
        ("tax.yaml", "text"),
        ("test_list.txt", "text"),
        ("clip.wav", "wav"),
        ("page.html", "html"),
        ("c.bin", "binary"),
        ("README", "binary"),
    ],
)
def test_kind_from_the_filename(name: str, kind: str) -> None:
    assert content.kind_of(name) == kind


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("a.zip", zip_bytes({"x/a.csv": b"1\n"})),
        ("a.tar.gz", targz_bytes({"x/a.csv": b"1\n"})),
        ("a.tar", TAR),
        ("a.json", json.dumps([{"id": "/m/04szw"}]).encode()),
        ("a.csv", b"filename,fold\na.wav,1\n"),
        ("a.wav", wav_bytes()),
        ("a.bin", bytes(range(256))),
    ],
)
def test_files_of_their_kind_pass(tmp_path: Path, name: str, data: bytes) -> None:
    assert content.problem(_write(tmp_path, name, data), content.kind_of(name)) is None


@pytest.mark.parametrize("name", ["a.zip", "a.tar.gz", "a.json", "a.csv", "a.wav", "a.bin"])
def test_an_html_page_passes_for_no_kind_but_html(tmp_path: Path, name: str) -> None:
    page = DRIVE_WARNING.format(action="https://drive.usercontent.google.com/download", file_id="x", uuid="u")
    path = _write(tmp_path, name, b"\xef\xbb\xbf  \n" + page.encode())
    assert content.problem(path, content.kind_of(name)) == (
        "a Google Drive virus-scan warning page titled 'Google Drive - Virus scan warning'"
    )
    assert content.problem(path, "html") is None


@pytest.mark.parametrize(
    ("name", "data", "why"),
    [
        ("a.zip", b"PK\x03\x04" + b"\0" * 100, "an unreadable zip archive"),
        ("a.zip", zip_bytes({}), "an empty zip archive"),
        ("a.zip", b"Rar!\x1a\x07\x00", "no zip archive (starts with b'Rar!"),
        ("a.tar.gz", targz_bytes({"x/a.bin": NOISE})[:5000], "an unreadable tar archive"),  # cut in the gzip stream
        ("a.tar", TAR[:5000], "an unreadable tar archive"),  # cut inside the last member's data
        ("a.tar.gz", b"\x1f\x8bnot gzip at all", "an unreadable tar archive"),
        ("a.json", b'{"id": ', "no valid JSON"),
        ("a.csv", b"PK\x03\x04\x00\x00", "binary data, not text (a NUL byte at offset 4)"),
        ("a.wav", b"ID3\x03\x00", "no WAV file"),
    ],
)
def test_broken_or_wrong_files_are_described(tmp_path: Path, name: str, data: bytes, why: str) -> None:
    got = content.problem(_write(tmp_path, name, data), content.kind_of(name))
    assert got is not None and got.startswith(why), got


def test_pages_are_told_apart(tmp_path: Path) -> None:
    login = b'<html><head><title>Login</title></head><form><input type="password" name="pw"></form></html>'
    assert content.describe_html(login) == "a login page (session missing or expired?) titled 'Login'"
    quota = b"<html><title>Google Drive - Quota exceeded</title></html>"
    assert content.describe_html(quota) == "a Google Drive quota-exceeded page titled 'Google Drive - Quota exceeded'"
    assert content.describe_html(b"<html><body>500</body></html>") == "an HTML page"
    assert not content.looks_like_html(b"filename,fold\n<html>,1\n")  # a CSV mentioning a tag is still a CSV
    with pytest.raises(ValueError, match="unknown content kind 'rar'"):
        content.problem(_write(tmp_path, "a.rar", b"x"), "rar")


@pytest.mark.parametrize(
    "url",
    [
        f"https://drive.google.com/uc?export=download&id={DRIVE_ID}",
        f"https://drive.google.com/open?id={DRIVE_ID}",
        f"https://drive.google.com/file/d/{DRIVE_ID}/view?usp=sharing",
        f"https://docs.google.com/uc?id={DRIVE_ID}&export=download",
        f"https://drive.usercontent.google.com/download?id={DRIVE_ID}",
    ],
)
def test_drive_links_become_the_direct_download_url(url: str) -> None:
    assert gdrive.file_id(url) == DRIVE_ID
    direct = f"https://drive.usercontent.google.com/download?id={DRIVE_ID}&export=download&confirm=t"
    assert gdrive.direct_url(url) == direct


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/karoldvl/ESC-50/archive/master.zip",
        f"https://docs.google.com/document/d/{DRIVE_ID}/edit",  # a Google Doc, no file
        f"http://127.0.0.1:8000/uc?export=download&id={DRIVE_ID}",
    ],
)
def test_other_urls_are_left_alone(url: str) -> None:
    assert gdrive.file_id(url) is None and gdrive.direct_url(url) == url


def test_warning_form_leads_to_the_file() -> None:
    page_url = f"https://drive.usercontent.google.com/download?id={DRIVE_ID}&export=download&confirm=t"
    page = DRIVE_WARNING.format(action="https://drive.usercontent.google.com/download", file_id=DRIVE_ID, uuid="u-1")
    assert gdrive.confirm_url(page.encode(), page_url) == (
        f"https://drive.usercontent.google.com/download?id={DRIVE_ID}&export=download&confirm=t&uuid=u-1"
    )
    # older pages: a "Download anyway" link, relative to the page
    old = (
        b'<html><a id="uc-download-link" href="/uc?export=download&amp;confirm=Ab1x&amp;id='
        + DRIVE_ID.encode()
        + b'">Download anyway</a></html>'
    )
    assert gdrive.confirm_url(old, "https://drive.google.com/uc?export=download&id=x") == (
        f"https://drive.google.com/uc?export=download&confirm=Ab1x&id={DRIVE_ID}"
    )


def test_other_pages_and_foreign_targets_are_not_followed() -> None:
    page_url = "http://127.0.0.1:8000/download?id=x"
    evil = DRIVE_WARNING.format(action="https://attacker.example/download", file_id="x", uuid="u")
    assert gdrive.confirm_url(evil.encode(), page_url) is None
    quota = b"<html><title>Google Drive - Quota exceeded</title><form action='/search'><input name='q'></form></html>"
    assert gdrive.confirm_url(quota, page_url) is None
    relative = DRIVE_WARNING.format(action="/download", file_id="x", uuid="u")
    assert gdrive.confirm_url(relative.encode(), page_url) == (
        "http://127.0.0.1:8000/download?id=x&export=download&confirm=t&uuid=u"
    )
