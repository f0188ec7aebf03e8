"""The ``datasets`` stage's task: row counts, index entries and the index of the listed corpora."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tasks.datasets import registry
from tasks.datasets.fetch import count_rows, fetch_listed, index_entry
from tests.helpers.corpus_server import Server, esc50_zip, serve_corpus, us8k_tgz


def test_rows_are_records_not_lines(tmp_path: Path) -> None:
    table = tmp_path / "metadata.csv"
    # a quoted field holding a newline: three lines of text after the header, two records
    table.write_text('path,label\na.wav,"dog\nbarking"\nb.wav,rain\n', encoding="utf-8")
    assert count_rows(table) == 2
    table.write_text("path,label\n", encoding="utf-8")
    assert count_rows(table) == 0


def test_an_index_entry_is_relative_to_the_project(tmp_path: Path) -> None:
    folder = tmp_path / "data" / "datasets" / "esc50"
    folder.mkdir(parents=True)
    table = folder / "metadata.csv"
    table.write_text("path,label\na.wav,dog\n", encoding="utf-8")
    assert index_entry("esc50", folder, table, tmp_path) == {
        "name": "esc50",
        "folder": "data/datasets/esc50",
        "metadata": "data/datasets/esc50/metadata.csv",
        "rows": 1,
        "licence": registry.get("esc50").licence,
    }


def test_the_index_lists_exactly_the_names_in_their_order(
    server: Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    serve_corpus(server, "esc50", [esc50_zip()], monkeypatch)
    serve_corpus(server, "urbansound8k", [us8k_tgz()], monkeypatch)
    dest, index = tmp_path / "data" / "datasets", tmp_path / "data" / "datasets" / "datasets.json"

    assert fetch_listed(["urbansound8k", "esc50"], dest, index, root=tmp_path, base_url=server.base) == index
    listed = json.loads(index.read_text())["datasets"]
    assert [(d["name"], d["rows"]) for d in listed] == [("urbansound8k", 2), ("esc50", 3)]
    assert capsys.readouterr().out.splitlines() == [
        "datasets: urbansound8k: 2 row(s) in data/datasets/urbansound8k/metadata.csv",
        "datasets: esc50: 3 row(s) in data/datasets/esc50/metadata.csv",
    ]

    # taken off the list: still on disk, out of the index
    fetch_listed(["esc50"], dest, index, root=tmp_path, base_url=server.base)
    assert [d["name"] for d in json.loads(index.read_text())["datasets"]] == ["esc50"]
    assert registry.is_present("urbansound8k", dest)
