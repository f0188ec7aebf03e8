#!/usr/bin/env python
"""Benchmark of how torch's worker threads wait: libgomp's default (300,000 spin rounds, then sleep), a short spin
(``GOMP_SPINCOUNT``) and ``OMP_WAIT_POLICY=PASSIVE`` (sleep at once), alone and beside a busy neighbour.

    .venv/bin/python benchmarks/bench_threads.py [--steps 8] [--rounds 2] [--size 128 256] [--batch 4]

What is timed: one ERFNet training step (AdamW, cross-entropy; the default ``seg`` sizes of params.yaml, or
``--size``/``--batch``) in a fresh process per row, with torch's default thread count (one per core), after two
warm-up steps. "wall s/step" and "CPU s/step" (the process's user + system time) are medians over ``--rounds``
interleaved rounds.

Why: libgomp's threads spin while they wait for the next parallel region. Alone on the machine, that costs a
little CPU and saves a wake-up per region; beside another busy process (a second job, a shared machine) a
spinning thread takes the core the working thread needs, and each step waits for the scheduler. The
"neighbour" rows run one pure-Python busy loop beside the step, the mildest such neighbour. Which setting wins
depends on the machine's load and on the size of the work (benchmarks/README.md), so soundflow leaves
libgomp's default and the README says when to change it.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import log, table

ROOT = Path(__file__).resolve().parents[1]
POLICIES = {  # what each row sets; unset, the worker imports torch (libgomp reads them then) before soundflow
    "spin (OpenMP's default)": {},
    "PASSIVE": {"OMP_WAIT_POLICY": "PASSIVE"},
    "short spin (GOMP_SPINCOUNT=3000)": {"GOMP_SPINCOUNT": "3000"},
    "short spin (GOMP_SPINCOUNT=1000)": {"GOMP_SPINCOUNT": "1000"},
}
WAIT_KEYS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")


def worker(steps: int, size: tuple[int, int], batch: int) -> dict[str, float]:
    """Time ``steps`` ERFNet training steps in this process (its OMP_WAIT_POLICY set by the parent)."""
    import torch
    import torch.nn.functional as F

    import models

    torch.manual_seed(0)
    model = models.get("erfnet")(num_classes=20)
    opt = torch.optim.AdamW(model.parameters(), lr=8e-4)
    x, y = torch.randn(batch, 3, *size), torch.randint(0, 20, (batch, *size))

    def step() -> None:
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()

    for _ in range(2):
        step()
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        step()
    return {"wall": (time.perf_counter() - wall) / steps, "cpu": (time.process_time() - cpu) / steps}


def _busy_neighbour() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def _one(policy: dict[str, str], neighbour: bool, args: argparse.Namespace) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if k not in WAIT_KEYS} | policy
    argv = [sys.executable, __file__, "--worker", "--steps", str(args.steps), "--batch", str(args.batch)]
    argv += ["--size", *map(str, args.size)]
    other = _busy_neighbour() if neighbour else None
    try:
        out = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, check=True, timeout=1800)
    finally:
        if other is not None:
            other.kill()
            other.wait()
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--size", type=int, nargs=2, default=(128, 256))
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.steps, tuple(args.size), args.batch)))
        return
    cases = [(n, p, nb) for nb in (False, True) for n, p in POLICIES.items()]
    got: dict[tuple[str, bool], list[dict[str, float]]] = {(n, nb): [] for n, _, nb in cases}
    for r in range(args.rounds):
        for name, policy, neighbour in cases:
            log(f"round {r + 1}/{args.rounds}: {name}{' + neighbour' if neighbour else ''}")
            got[(name, neighbour)].append(_one(policy, neighbour, args))
    rows = []
    for neighbour in (False, True):
        base = statistics.median(t["wall"] for t in got[(next(iter(POLICIES)), neighbour)])
        for name in POLICIES:
            wall = statistics.median(t["wall"] for t in got[(name, neighbour)])
            cpu = statistics.median(t["cpu"] for t in got[(name, neighbour)])
            where = "beside one busy process" if neighbour else "alone"
            rows.append([where, name, f"{wall:.3f}", f"{cpu:.3f}", f"{base / wall:.2f}"])
    print(f"ERFNet training step, batch {args.batch} x 3 x {args.size[0]} x {args.size[1]}, {os.cpu_count()} cores\n")
    print(table(["machine", "threads wait by", "wall s/step", "CPU s/step", "speed-up"], rows, [0, 0, 1, 1, 1]))


if __name__ == "__main__":
    main()
