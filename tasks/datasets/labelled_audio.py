"""One table for labelled audio datasets, whatever their own metadata layout.

Every classification stage reads a dataset through :func:`read_labelled_audio`,
which returns one row per clip: ``path`` (absolute), ``label`` (class index),
``class`` (name), ``fold``, ``source`` (the recording the clip was cut from). Supported layouts:

- ``urbansound8k``: ``metadata/UrbanSound8K.csv`` (or any single CSV in ``metadata/``)
  and ``audio/fold<k>/<slice_file_name>``; UrbanSound8K itself and soundflow's
  procedural urban-sound generator. ``source``: the Freesound id ``fsID``.
- ``esc50``: ``meta/esc50.csv`` or ``meta.csv`` (columns ``filename, fold, category``)
  and ``audio/<filename>``; ESC-50 and its ESC-10 subset. ``source``: ``src_file``.

Several clips of a dataset can come from one recording (UrbanSound8K's slices of one Freesound
file, ESC-50's takes of one ``src_file``); both datasets keep a recording inside one fold, and a
validation split must too (:mod:`tasks.datasets.splits`), or it scores clips whose recording
trained. Without the column, each clip is its own source.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from soundflow.errors import UserError


class DatasetLayoutError(UserError, ValueError):
    """A dataset folder that does not have the expected layout."""


def _single(root: Path, candidates: list[Path], what: str) -> Path:
    found = [c for c in candidates if c.is_file()]
    if not found:
        tried = ", ".join(str(c.relative_to(root)) for c in candidates) or "nothing"
        raise DatasetLayoutError(f"{root}: no {what} found (looked for {tried})")
    return found[0]


@contextmanager
def _reading(csv: Path) -> Iterator[None]:
    """Any failure to parse ``csv`` or to make its table (pandas' parser errors, a missing or non-numeric fold,
    a blank file name) as one DatasetLayoutError naming the file."""
    try:
        yield
    except DatasetLayoutError:
        raise
    except (ValueError, TypeError, LookupError, pd.errors.InvalidIndexError) as err:  # ValueError: pandas' parser
        problem = " ".join(str(err).split()) or type(err).__name__
        raise DatasetLayoutError(f"{csv}: unusable metadata CSV ({type(err).__name__}: {problem})") from None


def _require(df: pd.DataFrame, cols: list[str], source: Path) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise DatasetLayoutError(f"{source}: missing column(s) {missing}; has {list(df.columns)}")


def _sources(df: pd.DataFrame, column: str, names: pd.Series) -> list[str]:
    """The recording of each row: ``column`` when the metadata has it, else the clip's own file name."""
    values = df[column] if column in df.columns else names
    return [str(v) for v in values]


def _urbansound8k(root: Path) -> pd.DataFrame:
    meta_dir = root / "metadata"
    candidates = [meta_dir / "UrbanSound8K.csv"] + sorted(meta_dir.glob("*.csv"))
    csv = _single(root, candidates, "metadata CSV")
    with _reading(csv):
        df = pd.read_csv(csv)
        _require(df, ["slice_file_name", "fold", "classID", "class"], csv)
        names = df.drop_duplicates("classID").sort_values("classID")
        classes = list(names["class"])
        label_of = {c: i for i, c in enumerate(classes)}
        return _from(
            csv,
            {
                "path": [str(root / "audio" / f"fold{f}" / n) for f, n in zip(df["fold"], df["slice_file_name"])],
                "label": df["class"].map(label_of).astype(int),
                "class": df["class"],
                "fold": df["fold"].astype(int),
                "source": _sources(df, "fsID", df["slice_file_name"]),
            },
        )


def _esc50(root: Path) -> pd.DataFrame:
    csv = _single(root, [root / "meta" / "esc50.csv", root / "meta.csv"], "metadata CSV")
    with _reading(csv):
        df = pd.read_csv(csv)
        _require(df, ["filename", "fold", "category"], csv)
        classes = sorted(df["category"].unique())
        label_of = {c: i for i, c in enumerate(classes)}
        return _from(
            csv,
            {
                "path": [str(root / "audio" / n) for n in df["filename"]],
                "label": df["category"].map(label_of).astype(int),
                "class": df["category"],
                "fold": df["fold"].astype(int),
                "source": _sources(df, "src_file", df["filename"]),
            },
        )


def _from(csv: Path, columns: dict[str, object]) -> pd.DataFrame:
    """The table of ``columns``, refused when it lists no clip or one clip twice (counted twice, possibly in two
    folds: a test clip that trained); the message names the metadata file."""
    table = pd.DataFrame(columns)
    table.attrs["metadata_csv"] = str(csv)
    repeated = table["path"][table["path"].duplicated()]
    if len(repeated):
        raise DatasetLayoutError(f"{csv}: lists {len(repeated)} clip(s) more than once (first: {repeated.iloc[0]})")
    return table


LAYOUTS = {"urbansound8k": _urbansound8k, "esc50": _esc50}


def read_labelled_audio(root: str | Path, layout: str, *, allow_empty: bool = False) -> pd.DataFrame:
    """Rows ``path, label, class, fold, source`` sorted by path; classes indexed as the dataset numbers them.

    A metadata CSV that lists no clip is refused unless ``allow_empty`` (a generated set of a real-only
    experiment lists none, by design)."""
    root = Path(root).resolve()
    if not root.is_dir():
        raise DatasetLayoutError(f"{root}: dataset folder not found")
    try:
        reader = LAYOUTS[layout]
    except KeyError:
        raise DatasetLayoutError(f"unknown dataset layout {layout!r}; known: {sorted(LAYOUTS)}") from None
    table = reader(root)
    if table.empty and not allow_empty:
        raise DatasetLayoutError(f"{table.attrs['metadata_csv']}: the metadata CSV lists no clip")
    return table.sort_values("path", ignore_index=True)


def class_names(table: pd.DataFrame) -> list[str]:
    """Class names in label order."""
    pairs = table.drop_duplicates("label").sort_values("label")
    return list(pairs["class"])
