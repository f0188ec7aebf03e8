"""Helpers shared by the benchmark scripts: progress log, markdown tables, timing with a budget, machine header.

The scripts run as ``.venv/bin/python benchmarks/bench_X.py``, so this folder is on ``sys.path`` and they
import it as ``common``. Nothing here imports torch at module level: ``bench_erfnet.py`` sets
``TORCHINDUCTOR_CACHE_DIR`` before torch is first imported.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------------------------------------------
# tables


def fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], numeric: Sequence[bool] | None = None) -> str:
    """A markdown table; ``numeric`` columns are right-aligned."""
    numeric = numeric or [False] * len(headers)
    cells = [[c if isinstance(c, str) else fmt(c) for c in row] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in cells)]) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        return "| " + " | ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric)) + " |"

    rule = "|" + "|".join("-" * (w + 1) + (":" if num else "-") for w, num in zip(widths, numeric)) + "|"
    return "\n".join([line(headers), rule, *(line(r) for r in cells)])


# ----------------------------------------------------------------------------------------------------------------
# timing


@dataclass(frozen=True)
class Budget:
    """Warm-up calls, then timed calls until at least ``min_repeats`` and ``seconds`` (at most ``max_repeats``)."""

    warmup: int
    min_repeats: int
    max_repeats: int
    seconds: float


def synchronize(device: Any) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], object], device: Any) -> float:
    """Seconds of one call of ``fn``, synchronized on CUDA."""
    t0 = time.perf_counter()
    fn()
    synchronize(device)
    return time.perf_counter() - t0


def repeat(fn: Callable[[], object], device: Any, budget: Budget, warmup: int | None = None) -> list[float]:
    """Seconds of each timed call of ``fn`` (after ``warmup`` calls, the budget's by default), synchronized."""
    for _ in range(budget.warmup if warmup is None else warmup):
        fn()
    synchronize(device)
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < budget.max_repeats and (
        len(times) < budget.min_repeats or time.perf_counter() - start < budget.seconds
    ):
        times.append(timed(fn, device))
    return times


def autocast(device: Any, bf16: bool) -> Any:
    import torch

    # bf16 keeps fp32's range: no gradient scaler, as in tasks/aed/train.py and tasks/segmentation/train.py
    return torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else nullcontext()


def devices(choice: str) -> list[Any]:
    """The CPU always; CUDA too unless ``choice`` is "cpu" or none is available."""
    import torch

    out = [torch.device("cpu")]
    if choice != "cpu" and torch.cuda.is_available():
        out.append(torch.device("cuda"))
    return out


# ----------------------------------------------------------------------------------------------------------------
# header and entry point


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def machine_meta(cuda: bool) -> dict[str, Any]:
    """The first keys of every script's ``meta``: date, versions, CPU, and the CUDA device name if ``cuda``."""
    import torch

    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "cuda_device": torch.cuda.get_device_name(0) if cuda else None,
    }


def machine_line(m: dict[str, Any]) -> str:
    """The header's line on ``machine_meta``'s keys (no trailing newline)."""
    return (
        f"{m['date']}; python {m['python']}, torch {m['torch']}, torch threads {m['torch_threads']}; "
        f"cpu: {m['cpu']} ({m['cpu_count']} cores); cuda: {m['cuda_device'] or 'none'}"
    )


def argument_parser(doc: str) -> argparse.ArgumentParser:
    """A parser whose description is the first paragraph of the script's docstring ``doc`` (usage included)."""
    return argparse.ArgumentParser(
        description=doc.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )


def write_json(path: Path, results: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, allow_nan=False) + "\n")  # strict JSON, as the pipeline's
    log(f"wrote {path}")
