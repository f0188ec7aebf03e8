"""The results table laid out like the transcoder paper's: one row per input (Mel input, PINV, CNN-mels,
CNN-logits), columns top-1 agreement, multilabel macro-AUPRC / micro-AUPRC / macro ROC-AUC and single-label
accuracy per head; written as CSV and drawn as a PNG."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from soundflow.io import write_text
from soundflow.plots import table_figure
from tasks.transcoder.conditions import CONDITIONS, ROW_NAMES


def results_table(metrics: dict[str, Any], multilabel: str, singlelabel: str) -> pd.DataFrame:
    rows = []
    for c in CONDITIONS:
        row: dict[str, object] = {"input": ROW_NAMES[c]}
        for dataset, by_c in metrics["top1"].items():
            row[f"{dataset} teacher top-1 agreement (%)"] = 100 * by_c[c]["teacher_top1_agreement"]
        for head in ("deep", "grouping"):
            ml = metrics[multilabel][head][c]
            row[f"{multilabel} macro-AUPRC ({head})"] = ml["macro_auprc"]
            row[f"{multilabel} micro-AUPRC ({head})"] = ml["micro_auprc"]
            row[f"{multilabel} macro ROC-AUC ({head})"] = ml["macro_roc_auc"]
        for head in ("deep", "grouping"):
            row[f"{singlelabel} accuracy (%) ({head})"] = 100 * metrics[singlelabel][head][c]["accuracy"]
        rows.append(row)
    return pd.DataFrame(rows)


def write_table(metrics: dict[str, Any], multilabel: str, singlelabel: str, teacher: str, csv: Path, png: Path) -> Path:
    table = results_table(metrics, multilabel, singlelabel)
    write_text(csv, table.round(4).to_csv(index=False))
    return table_figure(table, png, title=f"spectral transcoder, teacher {teacher}")
