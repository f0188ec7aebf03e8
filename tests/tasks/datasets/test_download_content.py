"""A download never accepts an error page as data: registry fetches against the local corpus server.

An HTML page where an archive is expected, Google Drive's virus-scan warning, a file put into
``downloads/`` by hand, and Cityscapes' published md5 sums.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd
import pytest

from tasks.datasets import registry
from tasks.datasets.download import ChecksumError, ContentError, safe_url
from tests.helpers.corpus_server import (
    PASSWORD,
    USER,
    Server,
    drive_uuid,
    esc50_zip,
    md5_hex,
    serve_cityscapes,
    serve_files,
    zip_bytes,
)

LOGIN_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Login | Cityscapes Dataset</title></head><body>"
    b'<form method="post"><input name="username"><input type="password" name="password"></form>'
    b"</body></html>"
)
AVE_ID = "1FjKwe79e0u96vdjIVwfRQ1V6SoDHe7kK"
AVE_HEADER = "Category&VideoID&Quality&StartTime&EndTime\n"


def _gets(server: Server) -> list[str]:
    return [path for method, path, _ in server.requests if method == "GET"]


def _esc50_path() -> str:
    return "/karoldvl/ESC-50/archive/master.zip"


def ave_zip() -> bytes:
    """A tiny AVE_Dataset.zip; zip member times come from the clock, so build it once per test."""
    root = "AVE_Dataset/"
    return zip_bytes(
        {
            root + "Annotations.txt": (AVE_HEADER + "Church bell&vid1&good&0&10\nDog&vid2&good&2&5\n").encode(),
            root + "trainSet.txt": (AVE_HEADER + "Church bell&vid1&good&0&10\n").encode(),
            root + "valSet.txt": AVE_HEADER.encode(),
            root + "testSet.txt": (AVE_HEADER + "Dog&vid2&good&2&5\n").encode(),
            root + "AVE/vid1.mp4": b"\0\0\0\x18ftypmp42",
            root + "AVE/vid2.mp4": b"\0\0\0\x18ftypmp42",
        }
    )


@pytest.mark.parametrize("content_type", ["text/html; charset=UTF-8", None])
def test_html_page_where_a_zip_is_expected_is_refused_and_fetched_again(
    server: Server, tmp_path: Path, content_type: str | None
) -> None:
    serve_files(server, "esc50", [LOGIN_PAGE])
    if content_type:
        server.content_types[_esc50_path()] = content_type
    with pytest.raises(ContentError) as err:
        registry.fetch("esc50", tmp_path, base_url=server.base, progress=False)
    msg = str(err.value)
    assert safe_url(server.base + _esc50_path()) in msg
    assert "login page" in msg and "'Login | Cityscapes Dataset'" in msg and "expected a zip file" in msg

    downloads = tmp_path / "esc50" / "downloads"
    assert sorted(p.name for p in downloads.iterdir()) == ["ESC-50-master.zip.rejected.html"]
    assert (downloads / "ESC-50-master.zip.rejected.html").read_bytes() == LOGIN_PAGE  # kept to be read
    assert not registry.is_present("esc50", tmp_path)

    # nothing was marked done: the rerun goes back to the network, and takes the real archive
    archive = esc50_zip()
    serve_files(server, "esc50", [archive])
    server.content_types.clear()
    registry.fetch("esc50", tmp_path, base_url=server.base, progress=False)
    assert _gets(server) == [_esc50_path(), _esc50_path()]
    assert (downloads / "ESC-50-master.zip").read_bytes() == archive
    assert json.loads((downloads / "ESC-50-master.zip.done").read_text())["kind"] == "zip"
    assert registry.is_present("esc50", tmp_path)


def test_google_drive_warning_form_is_followed_to_the_zip(server: Server, tmp_path: Path) -> None:
    archive = server.drive[AVE_ID] = ave_zip()
    folder = registry.fetch("ave", tmp_path, base_url=server.base, progress=False)

    first = f"/download?id={AVE_ID}&export=download&confirm=t"  # the direct URL, not the uc? share link
    assert _gets(server) == [first, f"{first}&uuid={drive_uuid(AVE_ID)}"]
    zip_path = folder / "downloads" / "AVE_Dataset.zip"
    assert zip_path.read_bytes() == archive
    assert json.loads(zip_path.with_name("AVE_Dataset.zip.done").read_text())["md5"] == md5_hex(archive)
    assert not zip_path.with_name("AVE_Dataset.zip.rejected.html").exists()

    table = pd.read_csv(registry.prepare("ave", tmp_path))
    assert table["label"].tolist() == ["Church bell", "Dog"] and table["split"].tolist() == ["train", "test"]
    assert all((folder / p).is_file() for p in table["path"])


def test_google_drive_page_without_a_download_form_is_refused(server: Server, tmp_path: Path) -> None:
    quota = (
        b"<html><head><title>Google Drive - Quota exceeded</title></head><body>Too many users have "
        b"viewed or downloaded this file recently.</body></html>"
    )
    server.files[f"/download?id={AVE_ID}&export=download&confirm=t"] = quota
    with pytest.raises(ContentError, match="Google Drive quota-exceeded page titled 'Google Drive - Quota exceeded'"):
        registry.fetch("ave", tmp_path, base_url=server.base, progress=False)
    downloads = tmp_path / "ave" / "downloads"
    assert sorted(p.name for p in downloads.iterdir()) == ["AVE_Dataset.zip.rejected.html"]


def test_page_marked_done_by_an_earlier_version_is_checked_and_fetched_again(server: Server, tmp_path: Path) -> None:
    # what the old code left after AVE's warning page: the page saved as the zip, with a .done marker
    downloads = tmp_path / "ave" / "downloads"
    downloads.mkdir(parents=True)
    page = b"<!DOCTYPE html><html><head><title>Google Drive - Virus scan warning</title></head></html>"
    (downloads / "AVE_Dataset.zip").write_bytes(page)
    (downloads / "AVE_Dataset.zip.done").write_text(
        json.dumps({"size": len(page), "md5": md5_hex(page), "sha256": "0" * 64})
    )
    archive = server.drive[AVE_ID] = ave_zip()
    registry.fetch("ave", tmp_path, base_url=server.base, progress=False)
    assert (downloads / "AVE_Dataset.zip").read_bytes() == archive
    assert (downloads / "AVE_Dataset.zip.rejected.html").read_bytes() == page
    assert len(_gets(server)) == 2


def test_hand_placed_archive_is_kept_without_network(
    server: Server, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    downloads = tmp_path / "esc50" / "downloads"
    downloads.mkdir(parents=True)
    archive = esc50_zip()
    (downloads / "ESC-50-master.zip").write_bytes(archive)  # nothing is served: only the file can be used
    folder = registry.fetch("esc50", tmp_path, base_url=server.base, progress=False)
    assert server.requests == []
    assert "found in place without a marker; content checked as zip, kept" in caplog.text
    assert json.loads((downloads / "ESC-50-master.zip.done").read_text())["md5"] == md5_hex(archive)
    assert len(pd.read_csv(registry.prepare("esc50", tmp_path))) == 3 and registry.is_present("esc50", tmp_path)
    assert (folder / "ESC-50-master" / "ESC-50-master" / "meta" / "esc50.csv").is_file()


def test_hand_placed_html_page_is_rejected_and_fetched(
    server: Server, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    downloads = tmp_path / "esc50" / "downloads"
    downloads.mkdir(parents=True)
    (downloads / "ESC-50-master.zip").write_bytes(LOGIN_PAGE)  # "Save link as..." on an expired session
    archive = esc50_zip()
    serve_files(server, "esc50", [archive])
    registry.fetch("esc50", tmp_path, base_url=server.base, progress=False)
    assert _gets(server) == [_esc50_path()]
    assert (downloads / "ESC-50-master.zip").read_bytes() == archive
    assert (downloads / "ESC-50-master.zip.rejected.html").read_bytes() == LOGIN_PAGE
    assert "found in place, but it is a login page" in caplog.text


def test_cityscapes_packages_are_checked_against_the_published_md5(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    png = b"\x89PNG fake"
    gt = zip_bytes({"gtFine/train/aachen/aachen_000000_000019_gtFine_labelIds.png": png})
    member = "leftImg8bit/train/aachen/aachen_000000_000019_leftImg8bit.png"
    img = zip_bytes({member: png})
    at = 30 + len(member) + 2  # a byte of the stored member's data, after its 30-byte local header and name
    corrupted = img[:at] + bytes([img[at] ^ 0xFF]) + img[at + 1 :]  # a zip whose listing still opens
    serve_cityscapes(server, [gt, corrupted], [md5_hex(gt), md5_hex(img)])
    monkeypatch.setenv("CITYSCAPES_USERNAME", USER)
    monkeypatch.setenv("CITYSCAPES_PASSWORD", PASSWORD)

    with pytest.raises(ChecksumError, match=rf"leftImg8bit_trainvaltest\.zip: md5 mismatch: expected {md5_hex(img)}"):
        registry.fetch("cityscapes", tmp_path, base_url=server.base, progress=False)
    downloads = tmp_path / "cityscapes" / "downloads"
    assert not (downloads / "leftImg8bit_trainvaltest.zip").exists()
    assert not (downloads / "leftImg8bit_trainvaltest.zip.done").exists()
    assert not (tmp_path / "cityscapes" / "gtFine_trainvaltest").exists()  # downloads come first
    assert "/md5-sum/?packageID=3" in _gets(server)

    serve_cityscapes(server, [gt, img], [md5_hex(gt), md5_hex(img)])
    registry.fetch("cityscapes", tmp_path, base_url=server.base, progress=False)
    assert json.loads((downloads / "leftImg8bit_trainvaltest.zip.done").read_text())["md5"] == md5_hex(img)
    assert registry.is_present("cityscapes", tmp_path)

    # complete downloads need neither credentials nor the network
    monkeypatch.delenv("CITYSCAPES_PASSWORD")
    n = len(server.requests)
    registry.fetch("cityscapes", tmp_path, base_url=server.base, progress=False)
    assert len(server.requests) == n
