"""One GPU benchmark suite: the heavy part of every workflow on one CUDA GPU, one table, at most 8 minutes.

    .venv/bin/python benchmarks/gpu_suite.py          # `make bench-gpu`: one GPU, <= 8 min; reports/gpu_suite.{md,json}
    .venv/bin/python benchmarks/gpu_suite.py --quick  # the CPU at tiny sizes, seconds: the check that it still runs

Rows: ERFNet inference at 512x1024 (bf16 autocast + channels-last, batch 1 and 8, ms/image) and training
(images/s); the AED CNN (paper width 64, 1x256x512 = one 3 s chunk of the ``stft_chunks`` features) in ms per
chunk at batch 64; localisation stage-1 training at 256x256 frames and 5 s clips (pairs/s); the transcoder
CNN-mels training (Mel frames/s); the text-to-audio CRNN training (clips/s); the log-mel feature store on
the GPU, end to end from audio files (seconds of audio per second); AudioLDM2 at batch 1 and 16 on a tiny,
randomly initialised pipeline (clips/s; the real weights are not reachable offline); and the default
``dvc repro`` with every ``device`` parameter set to ``cuda``, in a scratch copy of the project (wall and
CPU seconds). Models, steps and features come from the project's own code (``gpu_cases.py``).

Each row is timed after warm-up calls, every call followed by ``torch.cuda.synchronize``; each row has a
time cap (and ``--budget`` caps the suite); a row that fails or runs out of time shows why in the table,
and the suite goes on. Without a CUDA device and without ``--quick`` the script says so and exits 1.
"""

from __future__ import annotations

import time

T0 = time.perf_counter()  # the budget counts the imports too

import gc  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from common import argument_parser, log, machine_line, machine_meta, table  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, sys.path[0] is benchmarks/: import this checkout's packages (and tests.helpers).
sys.path.insert(0, str(ROOT))

import gpu_cases as cases  # noqa: E402

HEADERS = ["what", "batch", "value", "unit", "device", "note"]
BUDGET_S = 480.0  # the whole suite, on one GPU
REPORT_S = 10.0  # kept back for the reports at the end


class RowTimeout(Exception):
    pass


@contextmanager
def time_cap(seconds: float) -> Iterator[None]:
    """Raise RowTimeout in this (main) thread after ``seconds``: the row stops, the suite goes on."""

    def on_alarm(signum: int, frame: Any) -> None:
        raise RowTimeout(f"stopped at its {seconds:.0f} s cap")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


@dataclass
class Context:
    device: Any
    sizes: cases.Sizes
    params: Any
    tiny: cases.TinyAudioLdm2  # the AudioLDM2 rows' pipeline, built once
    budget: float
    out: Path  # the reports' folder; the `dvc repro` row's log goes there too

    def left(self) -> float:
        return self.budget - (time.perf_counter() - T0)


@dataclass(frozen=True)
class Case:
    rows: list[tuple[str, str]]  # (what, unit) of each row the case fills, in order
    batch: int | None  # the GPU run's batch (``--quick``: at most 2)
    cap: float | None  # seconds; None: what is left of the budget
    run: Callable[[Context, int | None], list[cases.Measured]]


def one(fn: Callable[..., cases.Measured]) -> Callable[[Context, int | None], list[cases.Measured]]:
    return lambda ctx, batch: [fn(ctx, batch)]


def suite(s: cases.Sizes) -> list[Case]:
    c = cases
    h, w = s.erfnet_hw
    erf = f"ERFNet inference, {h}x{w}"
    a2 = "AudioLDM2 generation (tiny pipeline)"
    dvc = "default `dvc repro`, every device: cuda"
    return [
        Case([(erf, "ms/image")], 1, 60, one(lambda x, b: c.erfnet_inference(x.device, x.sizes, b))),
        Case([(erf, "ms/image")], 8, 60, one(lambda x, b: c.erfnet_inference(x.device, x.sizes, b))),
        Case(
            [(f"ERFNet training, {h}x{w}", "images/s")],
            8,
            90,
            one(lambda x, b: c.erfnet_training(x.device, x.sizes, x.params, b)),
        ),
        Case(
            [("AED CNN inference, per 3 s chunk", "ms/chunk")],
            64,
            60,
            one(lambda x, b: c.aed_inference(x.device, x.sizes, x.params, b)),
        ),
        Case(
            [(f"localisation stage-1 training, {s.loc_side}x{s.loc_side}", "pairs/s")],
            16,
            90,
            one(lambda x, b: c.localisation_stage1(x.device, x.sizes, x.params, b)),
        ),
        Case(
            [("transcoder CNN training", "frames/s")],
            64,
            60,
            one(lambda x, b: c.transcoder_training(x.device, x.sizes, x.params, b)),
        ),
        Case(
            [("text-to-audio CRNN training", "clips/s")],
            128,
            60,
            one(lambda x, b: c.crnn_training(x.device, x.sizes, x.params, b)),
        ),
        Case(
            [("log-mel feature store, from audio files", "audio s/s")],
            None,
            120,
            one(lambda x, b: c.logmel_store(x.device, x.sizes)),
        ),
        Case([(a2, "clips/s")], 1, 90, one(lambda x, b: c.audioldm2_clips(x.device, x.sizes, x.params, b, x.tiny))),
        Case([(a2, "clips/s")], 16, 90, one(lambda x, b: c.audioldm2_clips(x.device, x.sizes, x.params, b, x.tiny))),
        Case([(dvc, "s wall"), (dvc, "CPU s")], None, None, lambda x, b: dvc_repro_cuda(x)),
    ]


# ----------------------------------------------------------------------------------------------------------------
# the default pipeline on CUDA


def device_keys(raw: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted names of every ``device`` key of a params.yaml tree."""
    keys = []
    for k, v in raw.items():
        if isinstance(v, dict):
            keys += device_keys(v, f"{prefix}{k}.")
        elif k == "device":
            keys.append(prefix + k)
    return keys


def cuda_overrides(root: Path) -> dict[str, str]:
    from soundflow.pipeline.config import read_params_yaml

    return {k: "cuda" for k in device_keys(read_params_yaml(root / "params.yaml"))}


def dvc_repro_cuda(ctx: Context) -> list[cases.Measured]:
    """The default DAG with ``dvc repro`` in a fresh scratch copy (no outputs, no cache), every stage on CUDA."""
    from soundflow.pipeline.workspace import copy_project, set_params

    overrides = cuda_overrides(ROOT)
    if ctx.sizes.quick:  # minutes even on a GPU: --quick only checks that the overrides are valid parameters
        with tempfile.TemporaryDirectory() as tmp:
            shutil.copy2(ROOT / "params.yaml", Path(tmp) / "params.yaml")
            set_params(Path(tmp), overrides)
        note = f"skipped in --quick (minutes); its {len(overrides)} device keys set to cuda validate"
        return [cases.Measured(None, note), cases.Measured(None, note)]
    from bench_pipeline import copy_env

    with tempfile.TemporaryDirectory() as tmp:
        copy = copy_project(ROOT, Path(tmp) / "project", overrides)
        dvc = shutil.which("dvc", path=str(Path(sys.executable).parent)) or "dvc"
        wall, cpu = run_timed([dvc, "repro"], copy, copy_env(copy), ctx.out / "gpu_suite_dvc_repro.log")
    note = f"fresh scratch copy; {len(overrides)} device keys: cuda; CPU s of every stage process included"
    return [cases.Measured(wall, note), cases.Measured(cpu, note)]


def run_timed(cmd: list[str], cwd: Path, env: dict[str, str], log_file: Path) -> tuple[float, float]:
    """(wall s, CPU s of the command and every process it waited for); its output goes to ``log_file``."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    with log_file.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            rc = proc.wait()
        finally:
            if proc.poll() is None:  # stopped at the cap: end the command's own process group
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait()
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if rc != 0:
        tail = log_file.read_text(errors="replace").strip().splitlines()[-1:]
        raise RuntimeError(f"`{' '.join(cmd)}` exited {rc}: {tail[0] if tail else ''}")
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return wall, cpu


# ----------------------------------------------------------------------------------------------------------------
# running the rows


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200] if text else ''}".rstrip(": ")


def run_case(case: Case, ctx: Context) -> list[dict[str, Any]]:
    batch = ctx.sizes.batch(case.batch) if case.batch else None
    left = ctx.left() - REPORT_S
    cap = left if case.cap is None else min(case.cap, left)
    t0 = time.perf_counter()
    if left < 5:
        results = [cases.Measured(None, f"not run: the {ctx.budget:.0f} s budget is spent")] * len(case.rows)
    else:
        try:
            with time_cap(cap):
                results = case.run(ctx, batch)
        except Exception as exc:  # noqa: BLE001  (any failure is the row's result; the suite goes on)
            results = [cases.Measured(None, f"failed: {first_line(exc)}")] * len(case.rows)
        free_memory(ctx.device)
    seconds = time.perf_counter() - t0
    return [
        {
            "what": what,
            "batch": batch,
            "value": m.value,
            "unit": unit,
            "device": ctx.device.type,
            "note": m.note,
            "row_seconds": seconds,
        }
        for (what, unit), m in zip(case.rows, results)
    ]


def free_memory(device: Any) -> None:
    import torch

    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()


def run_all(ctx: Context) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for case in suite(ctx.sizes):
        new = run_case(case, ctx)
        for r in new:
            value = "-" if r["value"] is None else f"{r['value']:.3g} {r['unit']}"
            so_far = time.perf_counter() - T0
            log(f"{r['what']} (batch {r['batch'] or '-'}): {value} [{r['row_seconds']:.0f} s; {so_far:.0f} s so far]")
        rows += new
    return rows


# ----------------------------------------------------------------------------------------------------------------
# report


def markdown(rows: list[dict[str, Any]], meta: dict[str, Any]) -> str:
    body = table(
        HEADERS,
        [[r["what"], r["batch"] or "-", fmt_value(r["value"]), r["unit"], r["device"], r["note"]] for r in rows],
        numeric=[False, True, True, False, False, False],
    )
    mode = (
        "--quick: the CPU at tiny sizes (a check that the suite runs, not a measurement)"
        if meta["quick"]
        else "one GPU"
    )
    return (
        f"# GPU suite ({mode})\n\n{machine_line(meta)}; cudnn.benchmark {meta['cudnn_benchmark']}\n\n{body}\n\n"
        f"total {meta['total_seconds']:.0f} s of the {meta['budget_seconds']:.0f} s budget\n"
    )


def fmt_value(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"


def parse_args(argv: list[str] | None) -> Any:
    ap = argument_parser(__doc__)
    ap.add_argument("--quick", action="store_true", help="the CPU at tiny sizes: checks that every row still runs")
    ap.add_argument("--budget", type=float, default=BUDGET_S, metavar="S", help="seconds for the whole suite")
    ap.add_argument("--seconds", type=float, default=3.0, metavar="S", help="timed seconds per row (after warm-up)")
    ap.add_argument("--out", type=Path, default=ROOT / "reports", help="folder of gpu_suite[_quick].{md,json}")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import torch

    if not args.quick and not torch.cuda.is_available():
        print("gpu_suite: no CUDA device on this machine; run it where one GPU is, or --quick for the CPU check")
        return 1
    from soundflow.pipeline.config import load_params

    device = torch.device("cpu" if args.quick else "cuda")
    if args.quick:
        torch.set_num_threads(1)  # tiny convolutions: more threads only spin on shared cores
    with tempfile.TemporaryDirectory() as tmp:
        ctx = Context(
            device,
            cases.sizes(args.quick, args.seconds),
            load_params(ROOT),
            cases.TinyAudioLdm2(Path(tmp) / "tiny_audioldm2"),
            args.budget,
            args.out,
        )
        rows = run_all(ctx)
    meta = {
        **machine_meta(device.type == "cuda"),
        "quick": args.quick,
        "cudnn_benchmark": torch.backends.cudnn.benchmark,
        "budget_seconds": args.budget,
        "total_seconds": time.perf_counter() - T0,
    }
    text = markdown(rows, meta)
    print(text)
    name = "gpu_suite_quick" if args.quick else "gpu_suite"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{name}.md").write_text(text)
    (args.out / f"{name}.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2, allow_nan=False) + "\n")
    log(f"wrote {args.out / name}.md and .json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
