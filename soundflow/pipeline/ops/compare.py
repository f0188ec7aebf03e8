"""Runs side by side: one column per run, sorted by the chosen metric; the parameters that differ, the metrics,
the code (git commit, and whether the working tree held edits it does not) and the data (DVC hash of data/raw)
each ran on. Written as CSV (one row per run) and as a PNG bar chart (runs labelled by the parameters that differ,
with the metric's chance level where it is known).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from soundflow.io import atomic_path
from soundflow.pipeline.ops.runs import RunRecord

PROVENANCE = {
    "git commit": ("soundflow.git_commit", "git_commit"),
    "git dirty": ("soundflow.git_dirty",),  # "true": the code that ran is not all in the commit
    "data version": ("soundflow.data_version",),
}
MAX_LABEL_PARAMS = 4  # parameters named under a bar; more are counted


def sort_key(records: list[RunRecord], keys: list[str]) -> str:
    """Of the keys the metric names, the first that every run logged (else the first)."""
    return next((k for k in keys if all(k in r.metrics for r in records)), keys[0])


def sorted_runs(records: list[RunRecord], key: str, ascending: bool = False) -> list[RunRecord]:
    have = [r for r in records if key in r.metrics]
    have.sort(key=lambda r: r.metrics[key], reverse=not ascending)
    return have + [r for r in records if key not in r.metrics]


def differing_params(records: list[RunRecord]) -> list[str]:
    """Parameters whose values are not the same in every run (absent counts as a value)."""
    names = sorted({k for r in records for k in r.params})
    return [k for k in names if len({r.params.get(k) for r in records}) > 1]


def _tag(r: RunRecord, names: tuple[str, ...]) -> str:
    return next((r.tags[n] for n in names if r.tags.get(n)), "unknown")


def table(records: list[RunRecord], keys: list[str], ascending: bool = False) -> tuple[pd.DataFrame, str]:
    """The comparison (rows: fields, columns: runs best first) and the metric key it is sorted by."""
    key = sort_key(records, keys)
    runs = sorted_runs(records, key, ascending)
    others = sorted({k for r in runs for k in r.metrics if not k.startswith("history/")} - set(keys))
    rows: dict[str, list[object]] = {
        "run name": [r.name for r in runs],
        "stage": [r.stage for r in runs],
        "started (UTC)": [_started(r) for r in runs],
        "pipeline run": [r.parent_id or "" for r in runs],
    }
    for k in [key, *[k for k in keys if k != key], *others]:
        rows[f"metric: {k}"] = [r.metrics.get(k) for r in runs]
    for k in differing_params(runs):
        rows[f"param: {k}"] = [r.params.get(k, "") for r in runs]
    for label, names in PROVENANCE.items():
        rows[label] = [_tag(r, names) for r in runs]
    df = pd.DataFrame.from_dict(rows, orient="index", columns=[r.run_id for r in runs])
    df.index.name = "field"
    return df, key


def _started(r: RunRecord) -> str:
    return datetime.fromtimestamp(r.start_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def render(df: pd.DataFrame, width: int = 40) -> str:
    """The table for a terminal: run ids shortened, numbers to 4 significant digits, long values cut."""

    def cell(v: object) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        s = "" if v is None else str(v)
        return s if len(s) <= width else s[: width - 1] + "…"

    shown = df.rename(columns=lambda c: c[:8]).map(cell)
    return shown.to_string()


def write(df: pd.DataFrame, key: str, out_dir: Path, stem: str) -> tuple[Path, Path]:
    """``<stem>.csv`` (the whole table, one row per run, best first) and ``<stem>.png`` (the sort metric per run),
    each written atomically."""
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem)
    csv, png = Path(out_dir) / f"{stem}.csv", Path(out_dir) / f"{stem}.png"
    rows = df.T
    rows.index.name = "run id"
    with atomic_path(csv) as tmp:
        rows.to_csv(tmp)
    _bar_chart(df, key, png)
    return csv, png


def _bar_chart(df: pd.DataFrame, key: str, png: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    values = pd.to_numeric(df.loc[f"metric: {key}"], errors="coerce")
    labels = run_labels(df)
    fig, ax = plt.subplots(figsize=(max(4.0, 1.4 * len(labels)), 4.2))
    bars = ax.bar(range(len(labels)), values.fillna(0).to_numpy(), color="tab:blue")
    ax.bar_label(bars, labels=["n/a" if pd.isna(v) else f"{v:.3f}" for v in values], fontsize=8)
    ax.set_xticks(range(len(labels)), labels, fontsize=7)
    if (chance := chance_level(df, key)) is not None:
        ax.axhline(chance, color="tab:red", linestyle="--", linewidth=1, label=f"chance ({chance:.3g})")
        ax.legend(fontsize=7, loc="best")
    ax.set_ylabel(key)
    ax.set_title(f"{key} per run (best first)")
    fig.tight_layout()
    with atomic_path(png) as tmp:
        fig.savefig(tmp, dpi=120, format="png")
    plt.close(fig)


def run_labels(df: pd.DataFrame) -> list[str]:
    """Each run by the parameters that differ between the runs (``epochs=5``; the full key where two share their
    last part); by its name and start time where none differ."""
    names = [i[len("param: ") :] for i in df.index if i.startswith("param: ")]
    if not names:
        return [f"{df.at['run name', c]}\n{df.at['started (UTC)', c]}" for c in df.columns]
    last = [n.rsplit(".", 1)[-1] for n in names]
    short = [s if last.count(s) == 1 else n for n, s in zip(names, last)]
    out = []
    for c in df.columns:
        lines = [f"{s}={df.at[f'param: {n}', c]}" for n, s in zip(names, short)][:MAX_LABEL_PARAMS]
        if len(names) > MAX_LABEL_PARAMS:
            lines.append(f"+{len(names) - MAX_LABEL_PARAMS} more")
        out.append("\n".join(lines))
    return out


def chance_level(df: pd.DataFrame, key: str) -> float | None:
    """What the metric ``key`` scores by chance, where it is known: the ``chance_<metric>`` a stage logs beside it
    (aed: accuracy = 1/classes), 0.5 for a ROC AUC; None otherwise (an AUPRC's chance is the class prevalence,
    and the localisation's AUC is the area under a success-rate curve, neither logged)."""
    head, _, last = key.rpartition("/")
    row = f"metric: {head + '/' if head else ''}chance_{last}"
    if row in df.index:
        logged = pd.to_numeric(df.loc[row], errors="coerce").dropna().unique()
        return float(logged[0]) if len(logged) == 1 else None  # runs on other class counts: no one line
    return 0.5 if "roc_auc" in last.lower() else None
