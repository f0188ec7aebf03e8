"""benchmarks/gpu_suite.py cannot rot while no GPU is lent: its ``--quick`` mode runs every row on the CPU at tiny
sizes, and the row machinery (time caps, failures reported in the table) is checked on its own."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.paths import ROOT

SCRIPT = ROOT / "benchmarks" / "gpu_suite.py"
# (start of "what", unit) of every row, in the table's order
ROWS = [
    ("ERFNet inference", "ms/image"),
    ("ERFNet inference", "ms/image"),
    ("ERFNet training", "images/s"),
    ("AED CNN inference", "ms/chunk"),
    ("localisation stage-1 training", "pairs/s"),
    ("transcoder CNN training", "frames/s"),
    ("text-to-audio CRNN training", "clips/s"),
    ("log-mel feature store", "audio s/s"),
    ("AudioLDM2 generation", "clips/s"),
    ("AudioLDM2 generation", "clips/s"),
    ("default `dvc repro`", "s wall"),
    ("default `dvc repro`", "CPU s"),
]


@pytest.fixture()
def suite(monkeypatch: pytest.MonkeyPatch):
    """The script as a module (it imports ``common`` from its own folder, as when it runs as a script)."""
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    import gpu_suite

    return gpu_suite


# in the fast suite on purpose (not marked slow): the GPU suite must not rot while no GPU is lent
def test_quick_mode_fills_every_row_with_a_positive_number(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--out", str(tmp_path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = json.loads((tmp_path / "gpu_suite_quick.json").read_text())["rows"]
    assert [r["unit"] for r in rows] == [unit for _, unit in ROWS]
    assert all(r["what"].startswith(what) for r, (what, _) in zip(rows, ROWS)), [r["what"] for r in rows]
    measured, dvc = rows[:-2], rows[-2:]
    bad = [r for r in measured if not (r["value"] and math.isfinite(r["value"]) and r["value"] > 0)]
    assert not bad, bad
    assert all(r["device"] == "cpu" for r in rows)
    assert [r["batch"] for r in rows if r["what"].startswith(("ERFNet inference", "AudioLDM2"))] == [1, 2, 1, 2]
    # the pipeline row is left out of --quick, but its overrides are still checked against params.yaml
    assert all(r["value"] is None and "skipped in --quick" in r["note"] for r in dvc)
    table = (tmp_path / "gpu_suite_quick.md").read_text()
    assert "| what" in table and table.count("\n| ") == len(ROWS) + 1  # header + one line per row
    assert "not reachable" in table  # the AudioLDM2 rows say they are not the real model
    assert proc.stdout.strip().startswith("# GPU suite")


@pytest.mark.slow
def test_without_a_gpu_the_full_run_says_so_and_exits_1() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present: the full run would start")
    proc = subprocess.run([sys.executable, str(SCRIPT)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert len(proc.stdout.strip().splitlines()) == 1 and "no CUDA device" in proc.stdout


@pytest.mark.slow
def test_a_failing_or_overrunning_row_is_reported_and_the_next_one_runs(suite, tmp_path: Path) -> None:
    import torch
    from gpu_cases import Measured, TinyAudioLdm2, sizes

    ctx = suite.Context(torch.device("cpu"), sizes(True, 0.0), None, TinyAudioLdm2(tmp_path), 600, tmp_path)

    def boom(ctx, batch):
        raise ValueError("no such model\nsecond line")

    def slow(ctx, batch):
        time.sleep(10)
        return [Measured(1.0)]

    cases = [
        suite.Case([("boom", "x/s")], 8, 30, boom),
        suite.Case([("slow", "x/s")], None, 1, slow),
        suite.Case([("fine", "x/s"), ("also", "y")], 4, 30, lambda ctx, b: [Measured(b * 1.5), Measured(2.0)]),
    ]
    t0 = time.perf_counter()
    rows = [r for c in cases for r in suite.run_case(c, ctx)]
    assert time.perf_counter() - t0 < 8  # the 1 s cap stopped the sleeping row
    assert rows[0]["value"] is None and rows[0]["note"] == "failed: ValueError: no such model"
    assert rows[0]["batch"] == 2  # --quick: at most 2
    assert rows[1]["value"] is None and "RowTimeout: stopped at its 1 s cap" in rows[1]["note"]
    assert [(r["what"], r["value"]) for r in rows[2:]] == [("fine", 3.0), ("also", 2.0)]
    spent = suite.Context(torch.device("cpu"), sizes(True, 0.0), None, TinyAudioLdm2(tmp_path), 0, tmp_path)
    assert "budget is spent" in suite.run_case(cases[2], spent)[0]["note"]


def test_the_pipeline_row_sets_every_device_parameter(suite) -> None:
    lines = (ROOT / "params.yaml").read_text().splitlines()
    expected = sum(1 for line in lines if re.match(r"\s*device:", line))
    overrides = suite.cuda_overrides(ROOT)
    assert len(overrides) == expected > 5
    assert set(overrides.values()) == {"cuda"} and all(k.endswith(".device") for k in overrides)
    assert "text_to_audio.generate.audioldm2.device" in overrides


def test_the_pipeline_row_counts_the_cpu_of_the_command_and_its_children(suite, tmp_path: Path) -> None:
    log = tmp_path / "out.log"
    # a child that burns about 0.3 CPU s in a grandchild it waits for
    burn = "import time; t = time.process_time()\nwhile time.process_time() - t < 0.3: pass"
    child = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {burn!r}], check=True); print('done')"
    wall, cpu = suite.run_timed([sys.executable, "-c", child], tmp_path, {}, log)
    assert cpu >= 0.3 and wall >= 0.3 and "done" in log.read_text()
    with pytest.raises(RuntimeError, match="exited 3: last words"):
        suite.run_timed([sys.executable, "-c", "print('last words'); raise SystemExit(3)"], tmp_path, {}, log)
    t0 = time.perf_counter()
    with pytest.raises(suite.RowTimeout), suite.time_cap(1):
        suite.run_timed(["sleep", "30"], tmp_path, {}, log)
    assert time.perf_counter() - t0 < 10  # the capped command's process group was ended, not waited for
