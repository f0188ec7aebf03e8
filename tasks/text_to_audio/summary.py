"""The summary of the experiment: accuracy mean and standard deviation over the test folds per
(classifier, training set, multiplier), as a CSV and a PNG table, and accuracy against the amount of
synthetic data (percent of the real training set), as in Ronchini et al.'s (DCASE 2024) figure.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from soundflow.io import atomic_path  # noqa: E402

KEYS = ["classifier", "data_type", "multiplier"]


def summary_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean and (sample) standard deviation of the test accuracy over folds; std is 0 for a single fold."""
    t = runs.rename(columns=lambda c: c.split(".", 1)[1] if "." in c else c)
    g = t.groupby(KEYS, sort=True)["test_accuracy"]
    out = pd.DataFrame({"mean_accuracy": g.mean(), "std_accuracy": g.std(ddof=1).fillna(0.0), "n_folds": g.count()})
    out = out.reset_index()
    out["synthetic_percent_of_real"] = 100.0 * out["multiplier"]
    out["accuracy"] = [f"{100 * m:.1f} ± {100 * s:.1f} %" for m, s in zip(out["mean_accuracy"], out["std_accuracy"])]
    return out


def _table_png(table: pd.DataFrame, png: Path) -> None:
    cols = ["classifier", "data_type", "multiplier", "n_folds", "accuracy"]
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(table) + 0.8))
    ax.axis("off")
    ax.table(cellText=table[cols].astype(str).values, colLabels=cols, loc="center").auto_set_font_size(True)
    ax.set_title("Test accuracy over folds (mean ± std)")
    with atomic_path(png) as tmp:
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)


def _accuracy_plot(table: pd.DataFrame, png: Path, generator: str) -> None:
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for (clf, kind), g in table.groupby(["classifier", "data_type"]):
        if kind == "real":
            ax.axhline(
                100 * g["mean_accuracy"].iloc[0],
                ls="--",
                color="grey" if clf == "salamon_cnn" else "black",
                label=f"{clf}: real only",
            )
            continue
        ax.errorbar(
            g["synthetic_percent_of_real"],
            100 * g["mean_accuracy"],
            yerr=100 * g["std_accuracy"],
            marker="o",
            capsize=3,
            label=f"{clf}: {kind}",
        )
    ax.set_title(f"Accuracy against the amount of generated data ({generator})")
    ax.set_xlabel("synthetic data (% of the real training set)")
    ax.set_ylabel("test accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    with atomic_path(png) as tmp:
        fig.savefig(tmp, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)


def summarise(runs_csv: Path, table_csv: Path, table_png: Path, plot_png: Path, generator: str) -> pd.DataFrame:
    """The table (CSV, PNG) and the plot, whose title names the ``generator`` that made the synthetic clips."""
    table = summary_table(pd.read_csv(runs_csv))
    with atomic_path(table_csv) as tmp:
        table.to_csv(tmp, index=False)
    _table_png(table, table_png)
    _accuracy_plot(table, plot_png, generator)
    print(table[["classifier", "data_type", "multiplier", "n_folds", "accuracy"]].to_string(index=False))
    return table
