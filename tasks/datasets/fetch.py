"""The ``datasets`` stage's work: fetch the listed registered corpora into one folder and index them.

The index (``datasets.json``) is what downstream stages read to find a dataset's ``metadata.csv``; its
paths are relative to the project root, so it does not depend on where the checkout lives.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from soundflow.io import write_json
from tasks.datasets import registry
from tasks.datasets.download import DownloadError, LoginError
from tasks.datasets.extract import ArchiveError


def count_rows(table: Path) -> int:
    """Data rows of a CSV file with a header, counted as records: a quoted field may hold newlines."""
    with table.open(newline="", encoding="utf-8") as f:
        return sum(1 for _ in csv.reader(f)) - 1


def index_entry(name: str, folder: Path, table: Path, root: Path) -> dict[str, Any]:
    """One dataset's line of the index: where it lies and its metadata table, relative to ``root``."""
    return {
        "name": name,
        "folder": folder.relative_to(root).as_posix(),
        "metadata": table.relative_to(root).as_posix(),
        "rows": count_rows(table),
        "licence": registry.get(name).licence,
    }


def fetch_dataset(name: str, dest: Path, *, base_url: str | None, progress: bool = True) -> Path:
    """:func:`registry.fetch`, each failure (an unreachable host, an error page, a refused login, a bad
    checksum, a corrupt or unsafe archive) a one-line error that names the dataset (the URL and problem are in it)."""
    try:
        return registry.fetch(name, dest, base_url=base_url, progress=progress)
    except (DownloadError, LoginError, ArchiveError) as err:
        raise type(err)(f"dataset {name}: {err}") from err


def fetch_listed(names: Sequence[str], dest: Path, index_json: Path, *, root: Path, base_url: str | None) -> Path:
    """Fetch, verify, extract and prepare each of ``names`` under ``dest``; write their index to ``index_json``.

    ``dest`` is kept between runs (the stage's output is persistent) and :func:`registry.fetch` skips files
    whose completion markers an earlier run left, so adding one dataset downloads only that one. A dataset
    taken off the list stays on disk but leaves the index, which lists exactly ``names``, in their order.
    ``base_url`` replaces scheme and host of every URL (a mirror). Returns ``index_json``.
    """
    dest.mkdir(parents=True, exist_ok=True)
    listed = []
    for name in names:
        folder = fetch_dataset(name, dest, base_url=base_url)
        table = registry.prepare(name, dest)
        entry = index_entry(name, folder, table, root)
        listed.append(entry)
        print(f"datasets: {name}: {entry['rows']} row(s) in {entry['metadata']}")
    return write_json(index_json, {"datasets": listed})
