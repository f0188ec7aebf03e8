#!/usr/bin/env python
"""Benchmark of soundflow: the two pipeline engines, and the AED CNN itself.

    .venv/bin/python benchmarks/bench_pipeline.py [--size default|tiny] [--skip-pipeline] [--skip-model]
                                                  [--device auto|cpu|cuda] [--json PATH]

Prints markdown-style tables on stdout (progress goes to stderr); ``--json PATH``
writes the same numbers, unrounded, as JSON. Nothing is asserted: these are
measurements, and on a shared machine they vary by tens of percent run to run.

Pipeline (``--skip-pipeline`` leaves it out)
    Two scratch copies of this project (``soundflow.pipeline.workspace.copy_project``: the
    git-tracked and untracked-but-not-ignored files, no outputs, no DVC cache, no
    MLflow store: a fresh clone), with ``soundflow.pipeline.workspace.TINY`` parameters under
    ``--size tiny`` and the committed ``params.yaml`` under ``--size default``.
    Each copy first gets its own Prefect database, as ``make install`` does
    (timed, reported apart, not part of any run). Then the wall time of:

      copy 1  (a) cold ``dvc repro``        every stage runs, each in its own process
              (b) ``dvc repro`` again        nothing changed: DVC skips every stage
              (c) ``soundflow run``          DVC says all up to date: nothing recomputed
              (d) ``soundflow run`` again    every Prefect task Cached
      copy 2  (e) cold ``soundflow run``     every stage runs, in the one Prefect process
              (f) ``soundflow run`` again    every Prefect task Cached

    "ratio" is a run's time over the cold run of the same engine ((a) for dvc,
    (e) for prefect). The cached reruns' ratios are the baseline comparison: what
    it costs each engine to find out that nothing has to be done (DVC: hashing
    dependencies; Prefect: its ephemeral server plus the same DVC questions).
    "recomputed" is read from each command's own output, so a cached rerun that
    did work shows up there.

    Per-stage seconds of the two cold runs are read back from each copy's MLflow
    store (metric ``stage_seconds`` of the runs tagged ``soundflow.stage``, tag
    ``soundflow.engine`` = dvc or prefect). They time the stage's own work
    (imports inside the stage included), so a cold run's wall time minus their
    sum is the engine's overhead: one Python start-up per stage under DVC, the
    server and task orchestration under Prefect.

    ``soundflow run`` is invoked as ``python -m soundflow run`` in the copy: the
    ``soundflow`` console script would import the editable install (this checkout's
    code) instead of the copy's.

Model (``--skip-model`` leaves it out)
    The AED CNN (``models.get("aed_cnn")``, random weights and inputs, 10 classes)
    at the paper's size (width 64, input 1x256x512) and at ``params.yaml``'s
    ``aed.model`` and feature shape:

    * inference: eval mode under ``torch.no_grad()``, batch 1 and 64, in ms per
      3 s chunk (and chunks/s); on CUDA also bf16 autocast + channels_last;
    * training: Adam (``aed.train``'s lr_start and beta1), cross-entropy, batch
      32, in chunks/s; on CUDA also under bf16 autocast, as ``aed_train`` runs there;
    * feature extraction: ``tasks.aed.features.spectrogram_batch`` on 64 chunks
      of noise with ``params.yaml``'s ``aed.features`` (3 s at 44.1 kHz by default).

    Each case runs a few warm-up calls, then timed repeats until both a minimum
    count and a small time budget are reached; the median repeat is reported
    ("n" is how many were timed). CUDA timings synchronize after every call.
    ``--device auto`` times the CPU, and CUDA too when available; ``cpu`` only
    the CPU; ``cuda`` the CPU and CUDA (an error without CUDA). The CPU rows are
    always there so that results from different machines line up.

    Reference: the original research code reported 14 ms per chunk on a 2017
    GPU; compare the paper-size inference rows.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from unittest import mock

# benchmarks/common.py: sys.path[0] is benchmarks/ when this runs as a script
from common import (
    Budget,
    argument_parser,
    autocast,
    devices,
    fmt,
    log,
    machine_line,
    machine_meta,
    repeat,
    table,
    write_json,
)

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, sys.path[0] is benchmarks/: import this checkout's packages.
sys.path.insert(0, str(ROOT))

from soundflow import env as soundflow_env  # noqa: E402
from soundflow.pipeline.config import Params, load_params  # noqa: E402

BIN = Path(sys.executable).parent  # the virtual environment's bin/: dvc, prefect, and the `python` dvc.yaml calls
REFERENCE = "the original research code reported 14 ms per chunk on a 2017 GPU (paper-size inference)"

# Settings of the calling shell that would point a scratch copy at someone else's state.
_NOT_INHERITED = ("MLFLOW_TRACKING_URI", "SOUNDFLOW_PIPELINE_KEY", "PREFECT_API_URL", "PREFECT_PROFILE")


# ----------------------------------------------------------------------------------------------------------------
# pipeline


@dataclass
class Run:
    engine: str  # dvc | prefect
    label: str  # (a) .. (f)
    what: str
    seconds: float
    recomputed: int | None  # stages that did work, from the command's output
    cached: int | None  # Prefect tasks that finished in state Cached
    ratio: float | None = None  # to the cold run of the same engine


def _configured(root: Path) -> dict[str, str]:
    """What ``soundflow.env.configure(root)`` sets, computed without touching this process's environment."""
    with mock.patch.dict(os.environ, {}, clear=True):
        soundflow_env.configure(root)
        return dict(os.environ)


def copy_env(copy: Path) -> dict[str, str]:
    """Environment of every command run in ``copy``: offline, the venv first on PATH, state inside the copy."""
    env = {k: v for k, v in os.environ.items() if k not in _NOT_INHERITED}
    for key, value in _configured(copy).items():
        if key in soundflow_env.OFFLINE:
            env.setdefault(key, value)  # an offline switch the caller set on purpose wins
        else:
            # state folders: always the copy's (`make` exports PREFECT_HOME of the real project)
            env[key] = value
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", "")])
    return env


def run_cmd(cmd: list[str], cwd: Path, env: dict[str, str], log_file: Path) -> tuple[float, str]:
    """Run ``cmd`` to completion; (wall seconds, its stdout+stderr). Output goes to ``log_file``, not the terminal."""
    t0 = time.perf_counter()
    proc = subprocess.run(
        cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
    )
    seconds = time.perf_counter() - t0
    with log_file.open("a") as f:
        f.write(f"$ {' '.join(cmd)}  # {seconds:.2f} s, exit {proc.returncode}\n{proc.stdout}\n")
    if proc.returncode != 0:
        tail = "\n".join(proc.stdout.splitlines()[-40:])
        raise RuntimeError(f"`{' '.join(cmd)}` failed with exit {proc.returncode} in {cwd}:\n{tail}")
    return seconds, proc.stdout


def _tool(name: str) -> str:
    path = BIN / name
    return str(path) if path.exists() else name


def dvc_repro(copy: Path, env: dict[str, str], log_file: Path, label: str, what: str) -> Run:
    seconds, out = run_cmd([_tool("dvc"), "repro"], copy, env, log_file)
    ran = len(re.findall(r"^Running stage '", out, flags=re.M))
    return Run("dvc", label, what, seconds, ran, None)


def soundflow_run(copy: Path, env: dict[str, str], log_file: Path, label: str, what: str) -> Run:
    seconds, out = run_cmd([sys.executable, "-m", "soundflow", "run"], copy, env, log_file)
    m = re.search(r"soundflow run: \d+ stage\(s\), (\d+) recomputed", out)
    cached = len(re.findall(r"Finished in state Cached\(", out))
    return Run("prefect", label, what, seconds, int(m.group(1)) if m else None, cached)


def setup_prefect(copy: Path, env: dict[str, str], log_file: Path) -> float:
    """Create the copy's Prefect database, as `make install` does once per clone; seconds it took."""
    Path(env["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
    seconds, _ = run_cmd([_tool("prefect"), "server", "database", "upgrade", "-y"], copy, env, log_file)
    return seconds


def fresh_copy(dst: Path, size: str) -> tuple[Path, dict[str, str]]:
    from soundflow.pipeline.workspace import TINY, copy_project

    copy = copy_project(ROOT, dst, TINY if size == "tiny" else None)
    return copy, copy_env(copy)


def stage_seconds(copy: Path, engine: str) -> dict[str, float]:
    """``stage_seconds`` per stage of ``engine``'s stage runs in the copy's MLflow store (earliest run per stage)."""
    from mlflow.tracking import MlflowClient

    from soundflow.pipeline.stages import WORKFLOWS
    from soundflow.pipeline.tracking import workflow_experiment

    client = MlflowClient(f"sqlite:///{copy / 'mlruns.db'}")
    prefix = load_params(copy).tracking.experiment
    names = [workflow_experiment(prefix, w.name) for w in WORKFLOWS]  # one experiment per workflow
    ids = [e.experiment_id for n in names if (e := client.get_experiment_by_name(n)) is not None]
    if not ids:
        return {}
    runs = client.search_runs(
        ids,
        filter_string=f"tags.`soundflow.engine` = '{engine}'",
        order_by=["attributes.start_time ASC"],
        max_results=10_000,
    )
    out: dict[str, float] = {}
    for r in runs:
        stage, seconds = r.data.tags.get("soundflow.stage"), r.data.metrics.get("stage_seconds")
        if stage and seconds is not None:
            out.setdefault(stage, seconds)  # the first run of a stage is the cold one
    return out


def set_ratios(runs: list[Run], cold: dict[str, float]) -> None:
    for r in runs:
        r.ratio = r.seconds / cold[r.engine] if r.engine in cold else None


def bench_pipeline(size: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="soundflow-bench-") as tmp:
        tmp_path = Path(tmp)
        log_file = tmp_path / "commands.log"
        setup: dict[str, float] = {}
        try:
            log(f"pipeline ({size}): copy 1 in {tmp_path / 'dvc'}")
            c1, env1 = fresh_copy(tmp_path / "dvc", size)
            setup["copy 1"] = setup_prefect(c1, env1, log_file)
            runs = [dvc_repro(c1, env1, log_file, "a", "cold `dvc repro`")]
            log(f"(a) cold dvc repro: {runs[-1].seconds:.1f} s")
            runs.append(dvc_repro(c1, env1, log_file, "b", "`dvc repro` again (cached)"))
            log(f"(b) cached dvc repro: {runs[-1].seconds:.1f} s")
            runs.append(soundflow_run(c1, env1, log_file, "c", "`soundflow run` after `dvc repro`"))
            log(f"(c) soundflow run after dvc: {runs[-1].seconds:.1f} s")
            runs.append(soundflow_run(c1, env1, log_file, "d", "`soundflow run` again (all Cached)"))
            log(f"(d) soundflow run again: {runs[-1].seconds:.1f} s")

            log(f"pipeline ({size}): copy 2 in {tmp_path / 'prefect'}")
            c2, env2 = fresh_copy(tmp_path / "prefect", size)
            setup["copy 2"] = setup_prefect(c2, env2, log_file)
            runs.append(soundflow_run(c2, env2, log_file, "e", "cold `soundflow run` (fresh copy)"))
            log(f"(e) cold soundflow run: {runs[-1].seconds:.1f} s")
            runs.append(soundflow_run(c2, env2, log_file, "f", "`soundflow run` again (cached)"))
            log(f"(f) cached soundflow run: {runs[-1].seconds:.1f} s")

            set_ratios(runs, {"dvc": runs[0].seconds, "prefect": runs[4].seconds})
            per_stage = {"dvc": stage_seconds(c1, "dvc"), "prefect": stage_seconds(c2, "prefect")}
        except BaseException:
            if log_file.exists():
                log(f"command log (deleted with the scratch copies):\n{log_file.read_text()[-20000:]}")
            raise
    from soundflow.pipeline.stages import STAGES

    names = [s.name for s in STAGES if any(s.name in d for d in per_stage.values())]
    stages = [{"stage": n, "dvc": per_stage["dvc"].get(n), "prefect": per_stage["prefect"].get(n)} for n in names]
    return {"size": size, "prefect_db_setup_seconds": setup, "runs": [asdict(r) for r in runs], "stages": stages}


def print_pipeline(result: dict[str, Any]) -> None:
    runs = result["runs"]
    print(f"## Pipeline ({result['size']} parameters; scratch copies, wall seconds)\n")
    print(
        table(
            ["", "engine", "what", "seconds", "ratio to cold", "recomputed", "Cached tasks"],
            [
                [r["label"], r["engine"], r["what"], r["seconds"], r["ratio"], r["recomputed"], r["cached"]]
                for r in runs
            ],
            numeric=[False, False, False, True, True, True, True],
        )
    )
    setup = ", ".join(f"{k} {v:.1f} s" for k, v in result["prefect_db_setup_seconds"].items())
    print(
        f"\nnot counted above: Prefect database set-up per copy (`prefect server database upgrade`, "
        f"as `make install`): {setup}\n"
    )
    stages = result["stages"]
    total = {"dvc": sum(s["dvc"] or 0 for s in stages), "prefect": sum(s["prefect"] or 0 for s in stages)}
    cold = {r["engine"]: r["seconds"] for r in runs if r["label"] in ("a", "e")}
    rows = [[s["stage"], s["dvc"], s["prefect"]] for s in stages]
    rows.append(["sum of stages", total["dvc"], total["prefect"]])
    rows.append(["cold wall time", cold.get("dvc"), cold.get("prefect")])
    rows.append(
        [
            "engine overhead (wall - sum)",
            cold["dvc"] - total["dvc"] if "dvc" in cold else None,
            cold["prefect"] - total["prefect"] if "prefect" in cold else None,
        ]
    )
    print("### Per-stage seconds of the cold runs (MLflow `stage_seconds`)\n")
    print(table(["stage", "dvc", "prefect"], rows, numeric=[False, True, True]))
    print()


# ----------------------------------------------------------------------------------------------------------------
# model


@dataclass(frozen=True)
class Arch:
    label: str
    width: int
    dense: int
    dropout: float
    input_shape: tuple[int, int]
    n_classes: int = 10

    @property
    def shape(self) -> str:
        return f"1x{self.input_shape[0]}x{self.input_shape[1]}"


# On CPU a paper-size call takes seconds (a training step ~5-15 s on 2 cores): few repeats there.
CPU_INFER = Budget(warmup=1, min_repeats=3, max_repeats=20, seconds=2.0)
CPU_TRAIN = Budget(warmup=1, min_repeats=2, max_repeats=10, seconds=2.0)
# On CUDA the first calls pick kernels and allocate: more warm-up, and repeats are cheap.
CUDA_INFER = Budget(warmup=10, min_repeats=20, max_repeats=200, seconds=1.0)
CUDA_TRAIN = Budget(warmup=5, min_repeats=10, max_repeats=100, seconds=1.0)


def architectures(params: Params) -> list[Arch]:
    m, f = params.aed.model, params.aed.features
    paper = Arch("paper (w64)", 64, 512, 0.5, (256, 512))
    default = Arch(f"params.yaml (w{m.width})", m.width, m.dense, m.dropout, (f.n_freq_bins, f.n_frames))
    same = (paper.width, paper.dense, paper.input_shape) == (default.width, default.dense, default.input_shape)
    return [paper] if same else [paper, default]


def build(arch: Arch, device: Any, channels_last: bool) -> Any:
    import torch

    import models

    torch.manual_seed(0)
    model = models.get("aed_cnn")(
        n_classes=arch.n_classes, input_shape=arch.input_shape, width=arch.width, dense=arch.dense, dropout=arch.dropout
    ).to(device)
    return model.to(memory_format=torch.channels_last) if channels_last else model


def batch_of(arch: Arch, batch: int, device: Any, channels_last: bool) -> Any:
    import torch

    x = torch.rand(batch, 1, *arch.input_shape, device=device)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def row(arch: Arch, device: Any, mode: str, precision: str, batch: int, times: list[float]) -> dict[str, Any]:
    median = statistics.median(times)
    return {
        "model": arch.label,
        "input": arch.shape,
        "device": device.type,
        "mode": mode,
        "precision": precision,
        "batch": batch,
        "ms_per_chunk": 1000 * median / batch,
        "chunks_per_s": batch / median,
        "seconds_per_call": median,
        "n": len(times),
    }


def time_inference(arch: Arch, device: Any, batch: int, fast: bool) -> dict[str, Any]:
    """``fast``: bf16 autocast + channels_last (CUDA only)."""
    import torch

    model = build(arch, device, channels_last=fast).eval()
    x = batch_of(arch, batch, device, channels_last=fast)

    def call() -> object:
        with torch.no_grad(), autocast(device, fast):
            return model(x)

    times = repeat(call, device, CUDA_INFER if device.type == "cuda" else CPU_INFER)
    return row(arch, device, "inference", "bf16+channels_last" if fast else "fp32", batch, times)


def time_training(arch: Arch, device: Any, batch: int, bf16: bool, params: Params) -> dict[str, Any]:
    import torch
    import torch.nn.functional as F

    t = params.aed.train
    model = build(arch, device, channels_last=False).train()
    opt = torch.optim.Adam(model.parameters(), lr=t.lr_start, betas=(t.beta1, 0.999))
    x = batch_of(arch, batch, device, channels_last=False)
    y = torch.randint(0, arch.n_classes, (batch,), device=device)

    def step() -> object:
        with autocast(device, bf16):
            logits = model(x)
        loss = F.cross_entropy(logits.float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss

    times = repeat(step, device, CUDA_TRAIN if device.type == "cuda" else CPU_TRAIN)
    return row(arch, device, "training (Adam)", "bf16 autocast" if bf16 else "fp32", batch, times)


def time_features(device: Any, params: Params, n_chunks: int = 64) -> dict[str, Any]:
    import torch

    from tasks.features.stft_chunks import spectrogram_batch

    p = params.aed.features
    samples = round(p.chunk_seconds * p.sample_rate)
    gen = torch.Generator().manual_seed(0)
    # white noise in [-1, 1], already on the device: decoding and host-to-device copies are not timed
    chunks = (torch.rand(n_chunks, samples, generator=gen) * 2 - 1).to(device)
    times = repeat(
        lambda: spectrogram_batch(chunks, p.sample_rate, p), device, CUDA_INFER if device.type == "cuda" else CPU_INFER
    )
    median = statistics.median(times)
    return {
        "device": device.type,
        "chunks": n_chunks,
        "chunk": f"{p.chunk_seconds:g} s at {p.sample_rate} Hz",
        "output": f"{p.n_freq_bins}x{p.n_frames}",
        "ms_per_chunk": 1000 * median / n_chunks,
        "chunks_per_s": n_chunks / median,
        "n": len(times),
    }


def bench_model(choice: str) -> dict[str, Any]:
    import torch

    params = load_params(ROOT)
    rows: list[dict[str, Any]] = []
    features: list[dict[str, Any]] = []
    for device in devices(choice):
        features.append(time_features(device, params))
        log(f"features on {device.type}: {features[-1]['chunks_per_s']:.0f} chunks/s")
        for arch in architectures(params):
            variants = (False, True) if device.type == "cuda" else (False,)
            for fast in variants:
                for batch in (1, 64):
                    rows.append(time_inference(arch, device, batch, fast))
                    log(
                        f"{arch.label} {device.type} inference {rows[-1]['precision']} batch {batch}: "
                        f"{rows[-1]['ms_per_chunk']:.2f} ms/chunk"
                    )
            for bf16 in variants:
                rows.append(time_training(arch, device, 32, bf16, params))
                log(
                    f"{arch.label} {device.type} training {rows[-1]['precision']}: "
                    f"{rows[-1]['chunks_per_s']:.1f} chunks/s"
                )
            if device.type == "cuda":
                torch.cuda.empty_cache()  # the next architecture's timings start from the same free memory
    return {"rows": rows, "features": features, "reference": REFERENCE}


def print_model(result: dict[str, Any]) -> None:
    print("## AED CNN (random weights and inputs; median of n timed calls)\n")
    print(
        table(
            ["model", "input", "device", "mode", "precision", "batch", "ms/chunk", "chunks/s", "n"],
            [
                [
                    r["model"],
                    r["input"],
                    r["device"],
                    r["mode"],
                    r["precision"],
                    r["batch"],
                    r["ms_per_chunk"],
                    fmt(r["chunks_per_s"], 1),
                    r["n"],
                ]
                for r in result["rows"]
            ],
            numeric=[False, False, False, False, False, True, True, True, True],
        )
    )
    print(f"\nreference: {result['reference']}\n")
    print("### Feature extraction (`spectrogram_batch`, params.yaml `aed.features`)\n")
    print(
        table(
            ["device", "chunks", "chunk", "output", "ms/chunk", "chunks/s", "n"],
            [
                [
                    f["device"],
                    f["chunks"],
                    f["chunk"],
                    f["output"],
                    f["ms_per_chunk"],
                    fmt(f["chunks_per_s"], 1),
                    f["n"],
                ]
                for f in result["features"]
            ],
            numeric=[False, True, False, False, True, True, True],
        )
    )
    print()


# ----------------------------------------------------------------------------------------------------------------
# header and entry point


def meta(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    return {**machine_meta(torch.cuda.is_available()), "size": args.size, "device": args.device}


def print_header(m: dict[str, Any]) -> None:
    print("# soundflow benchmark\n")
    print(f"{machine_line(m)}\n")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argument_parser(__doc__)
    ap.add_argument(
        "--size",
        choices=["default", "tiny"],
        default="default",
        help="pipeline parameters: the committed params.yaml, or soundflow.pipeline.workspace.TINY",
    )
    ap.add_argument("--skip-pipeline", action="store_true", help="leave out the pipeline runs")
    ap.add_argument("--skip-model", action="store_true", help="leave out the model and feature timings")
    ap.add_argument(
        "--device",
        choices=["auto", "cpu", "cuda"],
        default="auto",
        help="model timings: cpu; auto adds cuda when available; cuda adds it or fails",
    )
    ap.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    if args.device == "cuda" and not args.skip_model and not torch.cuda.is_available():
        # said before the pipeline runs, not after minutes of them
        raise SystemExit("--device cuda: no CUDA device is available")
    # offline and quiet in this process too (MLflow is imported here to read the copies' stores)
    for key, value in soundflow_env.OFFLINE.items():
        os.environ.setdefault(key, value)
    results: dict[str, Any] = {"meta": meta(args)}
    print_header(results["meta"])
    t0 = time.perf_counter()
    if not args.skip_pipeline:
        results["pipeline"] = bench_pipeline(args.size)
        print_pipeline(results["pipeline"])
    if not args.skip_model:
        results["model"] = bench_model(args.device)
        print_model(results["model"])
    results["meta"]["total_seconds"] = time.perf_counter() - t0
    print(f"benchmark total: {results['meta']['total_seconds']:.0f} s")
    if args.json:
        write_json(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
