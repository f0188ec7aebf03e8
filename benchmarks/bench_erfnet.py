#!/usr/bin/env python
"""Benchmark of ERFNet: inference and training throughput, fp32 eager against bf16 / channels_last / torch.compile.

    .venv/bin/python benchmarks/bench_erfnet.py [--size H W] [--batches 1 8] [--train-batch 8]
                                                [--device auto|cpu|cuda] [--no-compile]
                                                [--skip-inference] [--skip-training] [--json PATH]

Prints markdown-style tables on stdout (progress goes to stderr); ``--json PATH``
writes the same numbers, unrounded, as JSON. Nothing is asserted: these are
measurements, and on a shared machine they vary by tens of percent run to run.

What is timed
    ``models.get("erfnet")(num_classes=19)`` (random weights) on random inputs
    in [-1, 1] of 3 x H x W, 512 x 1024 by default (the paper's size; ``--size``
    changes it, both sides multiples of 8). Three variants, on the CPU always
    and on CUDA when available (``--device``):

      fp32 eager         the baseline, printed first in every group
      bf16 + CL          ``torch.autocast(dtype=torch.bfloat16)`` with the model
                         and the input in ``torch.channels_last``, as
                         ``tasks/segmentation/train.py`` runs on CUDA (it keeps
                         fp32 on the CPU: the CPU rows show what bf16 would give)
      bf16 + CL + compile  the same under ``torch.compile`` (default mode,
                         ``dynamic=False``); ``--no-compile`` leaves it out, and a
                         compile that fails is reported as a skipped row with the error

    * inference: eval mode under ``torch.inference_mode()``, at each batch of
      ``--batches`` (1 and 8);
    * training: one AdamW step (``params.yaml`` ``seg.train`` lr and weight
      decay) with per-class weighted cross-entropy (ENet weights
      1 / ln(c + p_c) of a skewed label distribution, ``ignore_index`` 255 on
      ~10 % of the pixels; the loss on fp32 logits, as in training), at batch
      ``--train-batch`` (8), train mode (spatial dropout on). Only the model is
      compiled (forward and backward); the optimizer step stays eager.

How to read it
    "ms/image" is the median call (or step) divided by the batch; "images/s" its
    inverse. "speed-up" divides the fp32-eager median of the same device, mode and
    batch by the row's: above 1 is faster. "compile s" is the wall time of the
    first call of a compiled model (tracing, Inductor code generation, C++/Triton
    compilation, and one run); Inductor caches its work under
    ``TORCHINDUCTOR_CACHE_DIR`` (``.soundflow/inductor`` unless set), so a second
    run of the script compiles faster. Each compiled row gets a fresh model and
    ``torch._dynamo.reset()``: every shape is compiled statically, on its own.

    Each case runs warm-up calls (the compile call counts as one), then timed
    repeats until both a minimum count and a small time budget are reached; the
    median is reported ("n" is how many were timed). On CPU a 512 x 1024 training
    step at batch 8 takes tens of seconds, so the CPU gets 1 warm-up and 2 timed
    steps; CUDA gets more of both, and every CUDA call is synchronized. cuDNN
    settings are PyTorch's defaults (``--cudnn-benchmark`` turns autotuning on);
    the header says whether fp32 convolutions may use TF32.

    Reference: the original reported 0.2 s per image on a Tesla P100; the target
    on an H100 is under 5 ms per image for inference at batch 8 (compare the CUDA
    inference rows at batch 8; the script says whether the best one meets it).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# benchmarks/common.py: sys.path[0] is benchmarks/ when this runs as a script
from common import (
    Budget,
    argument_parser,
    autocast,
    devices,
    fmt,
    load_average,
    log,
    machine_line,
    machine_meta,
    repeat,
    table,
    timed,
    write_json,
)

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, sys.path[0] is benchmarks/: import this checkout's packages.
sys.path.insert(0, str(ROOT))
# Before torch is imported: Inductor reads it when it first compiles.
os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", str(ROOT / ".soundflow" / "inductor"))

NUM_CLASSES = 19  # Cityscapes' trainIds
IGNORE_INDEX = 255
TARGET_MS = 5.0  # per image, inference at batch 8, H100
TARGET_BATCH = 8
REFERENCE = (
    "the original reported 0.2 s per image on a Tesla P100; "
    f"the target on an H100 is < {TARGET_MS:g} ms per image for inference at batch {TARGET_BATCH}"
)


# ----------------------------------------------------------------------------------------------------------------
# timing


@dataclass(frozen=True)
class Variant:
    label: str
    bf16: bool
    channels_last: bool
    compile: bool


FP32 = Variant("fp32 eager", bf16=False, channels_last=False, compile=False)
FAST = Variant("bf16 + CL", bf16=True, channels_last=True, compile=False)
COMPILED = Variant("bf16 + CL + compile", bf16=True, channels_last=True, compile=True)


# On CPU a 512x1024 image takes ~1-3 s forward on 2 cores, a training step at batch 8 tens of seconds.
CPU_INFER = Budget(warmup=1, min_repeats=2, max_repeats=10, seconds=3.0)
CPU_TRAIN = Budget(warmup=1, min_repeats=2, max_repeats=2, seconds=0.0)
# On CUDA the first calls pick kernels and allocate: more warm-up, and repeats are cheap.
CUDA_INFER = Budget(warmup=10, min_repeats=20, max_repeats=200, seconds=1.0)
CUDA_TRAIN = Budget(warmup=5, min_repeats=10, max_repeats=100, seconds=2.0)


def build(device: Any, variant: Variant, train: bool) -> Any:
    import torch

    import models

    torch.manual_seed(0)
    model = models.get("erfnet")(num_classes=NUM_CLASSES).to(device).train(train)
    return model.to(memory_format=torch.channels_last) if variant.channels_last else model


def images(batch: int, size: tuple[int, int], device: Any, variant: Variant) -> Any:
    import torch

    gen = torch.Generator().manual_seed(1)
    x = (torch.rand(batch, 3, *size, generator=gen) * 2 - 1).to(device)
    return x.contiguous(memory_format=torch.channels_last) if variant.channels_last else x


def labels(batch: int, size: tuple[int, int], device: Any) -> tuple[Any, Any]:
    """Labels drawn from a skewed (Zipf-like) class distribution with ~10 % ignored pixels, and their ENet weights."""
    import torch

    from tasks.segmentation.weights import enet_class_weights

    gen = torch.Generator().manual_seed(2)
    prior = 1.0 / torch.arange(1, NUM_CLASSES + 1, dtype=torch.float64)
    y = torch.multinomial(prior / prior.sum(), batch * size[0] * size[1], replacement=True, generator=gen)
    y = y.view(batch, *size)
    y[torch.rand(y.shape, generator=gen) < 0.1] = IGNORE_INDEX
    valid = y[y != IGNORE_INDEX]
    freq = torch.bincount(valid, minlength=NUM_CLASSES).double() / valid.numel()
    w = torch.as_tensor(enet_class_weights(freq.numpy(), 1.1), dtype=torch.float32)
    return y.to(device), w.to(device)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:160] if text else ''}".rstrip(": ")


def row(
    device: Any,
    mode: str,
    variant: Variant,
    batch: int,
    times: list[float] | None,
    compile_s: float | None = None,
    note: str = "",
) -> dict[str, Any]:
    median = statistics.median(times) if times else None
    return {
        "device": device.type,
        "mode": mode,
        "variant": variant.label,
        "batch": batch,
        "ms_per_image": 1000 * median / batch if median else None,
        "images_per_s": batch / median if median else None,
        "seconds_per_call": median,
        "speedup": None,
        "compile_s": compile_s,
        "n": len(times) if times else 0,
        "note": note,
    }


def measure(
    device: Any, mode: str, variant: Variant, batch: int, make: Callable[[], Callable[[], object]], budget: Budget
) -> dict[str, Any]:
    """Time the call that ``make()`` returns; compiled variants report their first call as compile time."""
    import torch

    if not variant.compile:
        return row(device, mode, variant, batch, repeat(make(), device, budget))
    torch._dynamo.reset()  # every compiled row starts from nothing: no recompiles, no cache-size limit
    try:
        fn = make()
        compile_s = timed(fn, device)
        times = repeat(fn, device, budget, warmup=max(budget.warmup - 1, 0))
    except Exception as exc:  # noqa: BLE001  (Inductor raises many kinds: no compiler, lowering, ...)
        torch._dynamo.reset()
        log(f"{device.type} {mode} {variant.label} batch {batch}: compile failed: {first_line(exc)}")
        return row(device, mode, variant, batch, None, note=f"skipped, compile failed: {first_line(exc)}")
    torch._dynamo.reset()
    return row(device, mode, variant, batch, times, compile_s=compile_s)


def time_inference(device: Any, variant: Variant, batch: int, size: tuple[int, int]) -> dict[str, Any]:
    import torch

    def make() -> Callable[[], object]:
        model = build(device, variant, train=False)
        if variant.compile:
            model = torch.compile(model, dynamic=False)
        x = images(batch, size, device, variant)

        def call() -> object:
            with torch.inference_mode(), autocast(device, variant.bf16):
                return model(x)

        return call

    return measure(device, "inference", variant, batch, make, CUDA_INFER if device.type == "cuda" else CPU_INFER)


def time_training(
    device: Any, variant: Variant, batch: int, size: tuple[int, int], lr: float, weight_decay: float
) -> dict[str, Any]:
    import torch
    import torch.nn.functional as F

    def make() -> Callable[[], object]:
        model = build(device, variant, train=True)
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=weight_decay)
        net = torch.compile(model, dynamic=False) if variant.compile else model
        x = images(batch, size, device, variant)
        y, w = labels(batch, size, device)

        def step() -> object:
            with autocast(device, variant.bf16):
                logits = net(x)
            loss = F.cross_entropy(logits.float(), y, weight=w, ignore_index=IGNORE_INDEX)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            return loss

        return step

    return measure(device, "training (AdamW)", variant, batch, make, CUDA_TRAIN if device.type == "cuda" else CPU_TRAIN)


def set_speedups(rows: list[dict[str, Any]]) -> None:
    """Speed-up of each row over the fp32-eager row of the same device, mode and batch."""
    base = {(r["device"], r["mode"], r["batch"]): r["seconds_per_call"] for r in rows if r["variant"] == FP32.label}
    for r in rows:
        b = base.get((r["device"], r["mode"], r["batch"]))
        if r["variant"] != FP32.label and b and r["seconds_per_call"]:
            r["speedup"] = b / r["seconds_per_call"]


def bench(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    from soundflow.pipeline.config import load_params

    size = (args.size[0], args.size[1])
    t = load_params(ROOT).seg.train
    variants = [FP32, FAST] + ([] if args.no_compile else [COMPILED])
    inference: list[dict[str, Any]] = []
    training: list[dict[str, Any]] = []
    for device in devices(args.device):
        if not args.skip_inference:
            for batch in args.batches:
                for v in variants:
                    inference.append(time_inference(device, v, batch, size))
                    log(
                        f"{device.type} inference {v.label} batch {batch}: {fmt(inference[-1]['ms_per_image'])} "
                        f"ms/image ({time.perf_counter() - T0:.0f} s so far)"
                    )
        if not args.skip_training:
            for v in variants:
                training.append(time_training(device, v, args.train_batch, size, t.lr, t.weight_decay))
                log(
                    f"{device.type} training {v.label} batch {args.train_batch}: "
                    f"{fmt(training[-1]['images_per_s'])} images/s ({time.perf_counter() - T0:.0f} s so far)"
                )
        if device.type == "cuda":
            torch.cuda.empty_cache()
    set_speedups(inference)
    set_speedups(training)
    return {"inference": inference, "training": training, "reference": REFERENCE, "target": target(inference)}


def target(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The fastest CUDA inference row at batch 8 against the H100 target, or None without one."""
    cands = [r for r in rows if r["device"] == "cuda" and r["batch"] == TARGET_BATCH and r["ms_per_image"]]
    if not cands:
        return None
    best = min(cands, key=lambda r: r["ms_per_image"])
    return {
        "variant": best["variant"],
        "ms_per_image": best["ms_per_image"],
        "target_ms": TARGET_MS,
        "met": best["ms_per_image"] < TARGET_MS,
    }


def print_rows(title: str, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    print(f"## {title}\n")
    print(
        table(
            ["device", "variant", "batch", "ms/image", "images/s", "speed-up vs fp32 eager", "compile s", "n", "note"],
            [
                [
                    r["device"],
                    r["variant"],
                    r["batch"],
                    r["ms_per_image"],
                    r["images_per_s"],
                    "baseline" if r["variant"] == FP32.label else (f"{r['speedup']:.2f}x" if r["speedup"] else "-"),
                    fmt(r["compile_s"], 1),
                    r["n"],
                    r["note"],
                ]
                for r in rows
            ],
            numeric=[False, False, True, True, True, True, True, True, False],
        )
    )
    print()


def print_results(result: dict[str, Any], meta: dict[str, Any]) -> None:
    h, w = meta["size"]
    print_rows(
        f"ERFNet inference, {h}x{w}, {NUM_CLASSES} classes (eval, inference_mode; median of n calls)",
        result["inference"],
    )
    print_rows(
        f"ERFNet training, {h}x{w}, {NUM_CLASSES} classes (AdamW step, weighted CE; median of n steps)",
        result["training"],
    )
    print(f"reference: {result['reference']}")
    tg = result["target"]
    if tg:
        print(
            f"target: best CUDA inference at batch {TARGET_BATCH}: {tg['variant']}, {tg['ms_per_image']:.2f} "
            f"ms/image on {meta['cuda_device']}: {'met' if tg['met'] else 'not met'} (< {TARGET_MS:g} ms)"
        )
    if (h, w) != (512, 1024):
        print(f"(timed at {h}x{w}, not the paper's 512x1024: the reference figures do not compare directly)")
    print()


# ----------------------------------------------------------------------------------------------------------------
# header and entry point


def meta(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    return {
        **machine_meta(torch.cuda.is_available() and args.device != "cpu"),
        "cudnn_benchmark": torch.backends.cudnn.benchmark,
        "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
        "size": list(args.size),
        "batches": list(args.batches),
        "train_batch": args.train_batch,
        "compile": not args.no_compile,
        "inductor_cache_dir": os.environ["TORCHINDUCTOR_CACHE_DIR"],
        "device": args.device,
        "load_average_start": load_average(),
    }


def print_header(m: dict[str, Any]) -> None:
    print("# ERFNet benchmark\n")
    cuda = m["cuda_device"]
    print(
        machine_line(m)
        + (f" (cudnn.benchmark {m['cudnn_benchmark']}, TF32 convs {m['cudnn_allow_tf32']})" if cuda else "")
        + f"; load average at start {m['load_average_start']}\n"
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argument_parser(__doc__)
    ap.add_argument(
        "--size",
        type=int,
        nargs=2,
        default=[512, 1024],
        metavar=("H", "W"),
        help="input height and width, multiples of 8 (default: the paper's 512 1024)",
    )
    ap.add_argument("--batches", type=int, nargs="+", default=[1, 8], metavar="B", help="inference batch sizes")
    ap.add_argument("--train-batch", type=int, default=8, metavar="B", help="training batch size")
    ap.add_argument(
        "--device",
        choices=["auto", "cpu", "cuda"],
        default="auto",
        help="cpu; auto adds cuda when available; cuda adds it or fails",
    )
    ap.add_argument("--no-compile", action="store_true", help="leave out the torch.compile rows")
    ap.add_argument("--cudnn-benchmark", action="store_true", help="set torch.backends.cudnn.benchmark")
    ap.add_argument("--skip-inference", action="store_true", help="leave out the inference timings")
    ap.add_argument("--skip-training", action="store_true", help="leave out the training timings")
    ap.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON")
    args = ap.parse_args(argv)
    if any(s <= 0 or s % 8 for s in args.size):
        ap.error(f"--size: both sides must be positive multiples of 8, got {args.size[0]} {args.size[1]}")
    if any(b < 1 for b in [*args.batches, args.train_batch]):
        ap.error("batch sizes must be >= 1")
    return args


T0 = time.perf_counter()


def main(argv: list[str] | None = None) -> int:
    global T0
    args = parse_args(argv)
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device is available")
    if args.cudnn_benchmark:
        torch.backends.cudnn.benchmark = True
    T0 = time.perf_counter()
    results: dict[str, Any] = {"meta": meta(args)}
    print_header(results["meta"])
    results.update(bench(args))
    print_results(results, results["meta"])
    results["meta"]["total_seconds"] = time.perf_counter() - T0
    results["meta"]["load_average_end"] = load_average()
    print(
        f"benchmark total: {results['meta']['total_seconds']:.0f} s; "
        f"load average at end {results['meta']['load_average_end']}"
    )
    if args.json:
        write_json(args.json, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
