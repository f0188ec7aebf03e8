"""What benchmarks/real/us8k_*.py share: the UrbanSound8K folder and its folds (the registry's loader), the
directions (each fold once the test fold, the others training), a scratch project with configs/real's set, the
CLI run with its wall and CPU seconds, the published figures, and the report (markdown table + JSON).

The scripts run as ``.venv/bin/python benchmarks/real/us8k_X.py``, so this folder is ``sys.path[0]`` and they
import this module as ``us8k_common``, after putting the checkout and ``benchmarks/`` (``common``,
``bench_pipeline``) on the path.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import log, machine_line, machine_meta, table

from soundflow.io import write_json, write_text

ROOT = Path(__file__).resolve().parents[2]

SHARED = Path(os.environ.get("SOUNDFLOW_SHARED", ROOT.parent / "shared"))
DEFAULT_FOLDER = SHARED / "data" / "urbansound8k"
REAL_SET = ROOT / "configs" / "real" / "urbansound8k.yaml"
REPORTS = ROOT / "reports" / "real"

# Published 10-fold cross-validation accuracies on UrbanSound8K (nine folds train, one tests, ten times).
PUBLISHED = {
    "aed_cnn": "SB-CNN 73 % (Salamon & Bello 2017, no augmentation)",
    "salamon_cnn": "73 % (Salamon & Bello 2017); real only 64.7 % (Ronchini et al. 2024)",
    "crnn": "real only 64.7 % (Ronchini et al. 2024, their CNN)",
    "yamnet_logreg": "-",
}
WHY_OURS_DIFFER = (
    "The published figures train on nine folds (about 7,900 clips) and average ten test folds; here one fold "
    "trains (873 or 711 clips, a fifth of it validating), the other tests, with CPU-sized models and few epochs. "
    "Fold 2 is 711 of its 888 clips (the first 80 % of each class). Expect lower accuracy, and a spread "
    "between the two directions (the published per-fold accuracies also vary from fold to fold)."
)


@dataclass(frozen=True)
class Direction:
    test: int
    train: tuple[int, ...]

    @property
    def label(self) -> str:
        return f"train {'+'.join(map(str, self.train))} -> test {self.test}"


def folds_of(folder: Path) -> list[int]:
    """The folds present in ``folder``, read by the registry's loader (what the datasets stage indexes)."""
    from tasks.datasets import registry

    return sorted(set(registry.get("urbansound8k").prepare(folder)["fold"].tolist()))


def directions(folds: list[int]) -> list[Direction]:
    """Each fold once the test fold, every other fold training: the 10-fold protocol on the full dataset."""
    return [Direction(k, tuple(f for f in folds if f != k)) for k in folds]


def base_overrides(folder: Path) -> dict[str, Any]:
    """configs/real/urbansound8k.yaml with both roots at ``folder`` and nothing to download."""
    from soundflow.pipeline.config import read_overrides

    return {
        **read_overrides(REAL_SET),
        "data.download.datasets": [],
        "aed.data.root": str(folder),
        "text_to_audio.real.root": str(folder),
    }


def parser(doc: str, default_minutes: str) -> argparse.ArgumentParser:
    from common import argument_parser

    ap = argument_parser(doc)
    ap.add_argument("--folder", type=Path, default=DEFAULT_FOLDER, help="UrbanSound8K (audio/fold<k>/, metadata/)")
    ap.add_argument("--work", type=Path, help=f"scratch folder (default: a temporary one); {default_minutes}")
    ap.add_argument("--threads", type=int, help="torch threads of every process (OMP_NUM_THREADS; default: torch's)")
    return ap


def set_threads(n: int | None) -> None:
    """Torch threads for this process and the commands it starts (before torch is imported)."""
    if n:
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(n)


class Clock:
    """Wall seconds and CPU seconds (this process and its finished children) since it was made."""

    def __init__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), _cpu()

    def read(self) -> tuple[float, float]:
        return time.perf_counter() - self.wall, _cpu() - self.cpu


def _cpu() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_soundflow(project: Path, env: dict[str, str], args: list[str], log_file: Path) -> tuple[float, float]:
    """``python -m soundflow ARGS`` in the scratch project (its own code); (wall s, CPU s of the command)."""
    from bench_pipeline import run_cmd

    clock = Clock()
    run_cmd([sys.executable, "-m", "soundflow", *args], project, env, log_file)
    return clock.read()


def report(name: str, title: str, notes: list[str], headers: list[str], rows: list[list[Any]], data: dict) -> str:
    """Print the markdown and write it with the JSON to reports/real/<name>.{md,json}; the markdown."""
    meta = machine_meta(cuda=False)
    md = "\n".join(
        [
            f"# {title}",
            "",
            f"Machine: {machine_line(meta)}; load average {_load()}.",
            "",
            *notes,
            "",
            table(headers, rows),
        ]
    )
    print(md)
    REPORTS.mkdir(parents=True, exist_ok=True)
    write_text(REPORTS / f"{name}.md", md + "\n")
    write_json(REPORTS / f"{name}.json", {"meta": meta, **data}, sort_keys=False)
    log(f"wrote {REPORTS / name}.md and .json")
    return md


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())
