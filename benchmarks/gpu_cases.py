"""The in-process rows of ``gpu_suite.py``: each builds its model, features or generator from the project's own
code and returns one number.

Every training row runs the step :func:`soundflow.training.fit` runs: the workflow's own ``train_step`` under
``soundflow.devices.autocast`` (bf16 on CUDA, fp32 on the CPU), then ``zero_grad``, ``backward`` outside the
autocast and the workflow's optimiser; batches move to the device as fit moves them (channels-last 4-D
inputs where the workflow asks for it, on CUDA only). Inference rows run in eval mode under
``torch.inference_mode()`` and the same autocast. Timing is :func:`common.repeat`: warm-up calls first,
then timed calls, each followed by ``torch.cuda.synchronize`` on CUDA.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import Budget, repeat

ROOT = Path(__file__).resolve().parents[1]
N_CLASSES = 10  # UrbanSound8K's and ESC-10's classes, for the AED CNN and the CRNN


@dataclass(frozen=True)
class Sizes:
    """Everything that differs between the GPU run and ``--quick`` (the CPU check that the script still runs)."""

    quick: bool
    erfnet_hw: tuple[int, int]
    aed_width: int  # conv width of the AED CNN: the paper's 64 on the GPU
    loc_side: int  # the localisation frame side
    loc_clip_seconds: float  # the localisation audio: the paper's 5 s (251 x 64 log-mel frames)
    transcoder_channels: int
    crnn_channels: int
    logmel_clips: int | None  # None: every clip of the data set
    audioldm2_steps: int | None  # None: params.yaml's
    audioldm2_seconds: float
    infer: Budget
    train: Budget
    generate: Budget  # AudioLDM2: one call is a whole diffusion (hundreds of UNet steps)

    def batch(self, full: int) -> int:
        """The row's batch: the paper's or the pipeline's on the GPU, at most 2 in ``--quick``."""
        return min(full, 2) if self.quick else full


def sizes(quick: bool, seconds: float) -> Sizes:
    """``seconds``: the timed part of each row (warm-up excluded), on the GPU."""
    if quick:
        tiny = Budget(warmup=1, min_repeats=2, max_repeats=2, seconds=0.0)
        return Sizes(True, (32, 64), 4, 32, 0.5, 4, 4, 4, 2, 0.064, tiny, tiny, tiny)
    # on CUDA the first calls choose kernels and allocate: more warm-up; repeats are cheap
    return Sizes(
        False,
        (512, 1024),
        64,
        256,
        5.0,
        64,
        64,
        None,
        None,
        0.256,  # the tiny UNet's attention grows with the square of the length; 4096 samples at 16 kHz
        Budget(warmup=10, min_repeats=20, max_repeats=500, seconds=seconds),
        Budget(warmup=5, min_repeats=10, max_repeats=300, seconds=seconds),
        Budget(warmup=1, min_repeats=2, max_repeats=20, seconds=seconds),
    )


@dataclass(frozen=True)
class Measured:
    value: float | None  # None: the row did not run (its note says why)
    note: str = ""


def median_seconds(fn: Any, device: Any, budget: Budget) -> tuple[float, int]:
    times = repeat(fn, device, budget)
    return statistics.median(times), len(times)


def to_device(x: Any, device: Any, channels_last: bool) -> Any:
    """A batch tensor on ``device`` as :func:`soundflow.training.fit` moves it."""
    import torch

    if channels_last and device.type == "cuda" and x.dim() == 4 and x.is_floating_point():
        return x.to(device, memory_format=torch.channels_last)
    return x.to(device)


def train_seconds(
    model: Any, batch: tuple, train_step: Any, make_opt: Any, device: Any, budget: Budget, channels_last: bool = False
) -> tuple[float, int]:
    """Median seconds of one training step of ``model`` on ``batch`` (fit's step: see the module docstring)."""
    import torch

    from soundflow.devices import autocast

    model = model.to(device).train()
    if channels_last and device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    batch = tuple(to_device(b, device, channels_last) for b in batch)
    opt = make_opt(model.parameters())

    def step() -> object:
        with autocast(device):
            out = train_step(model, batch)
        opt.zero_grad(set_to_none=True)
        out.loss.backward()  # outside autocast, as fit does
        opt.step()
        return out.loss

    return median_seconds(step, device, budget)


def infer_seconds(model: Any, x: Any, device: Any, budget: Budget) -> tuple[float, int]:
    """Median seconds of one forward pass: eval, inference mode, autocast; channels-last model and input on CUDA."""
    import torch

    from soundflow.devices import autocast

    model = model.to(device).eval()
    if device.type == "cuda":
        model, x = model.to(memory_format=torch.channels_last), to_device(x, device, True)
    else:
        x = x.to(device)

    def call() -> object:
        with torch.inference_mode(), autocast(device):
            return model(x)

    return median_seconds(call, device, budget)


def precision(device: Any) -> str:
    return "bf16 autocast + channels-last" if device.type == "cuda" else "fp32 (CPU)"


# ----------------------------------------------------------------------------------------------------------------
# segmentation (ERFNet)


def erfnet_inference(device: Any, s: Sizes, batch: int) -> Measured:
    import torch
    from bench_erfnet import NUM_CLASSES

    import models

    torch.manual_seed(0)
    model = models.get("erfnet")(num_classes=NUM_CLASSES)
    x = torch.rand(batch, 3, *s.erfnet_hw) * 2 - 1
    sec, n = infer_seconds(model, x, device, s.infer)
    h, w = s.erfnet_hw
    return Measured(1000 * sec / batch, f"{h}x{w}, {NUM_CLASSES} classes, {precision(device)}; median of {n}")


def erfnet_training(device: Any, s: Sizes, params: Any, batch: int) -> Measured:
    import torch
    from bench_erfnet import NUM_CLASSES, labels

    import models
    from tasks.segmentation.train import _weighted_loss

    t = params.seg.train
    torch.manual_seed(0)
    model = models.get("erfnet")(num_classes=NUM_CLASSES)
    x = torch.rand(batch, 3, *s.erfnet_hw) * 2 - 1
    y, w = labels(batch, s.erfnet_hw, torch.device("cpu"))  # skewed classes, 10 % ignored, ENet weights
    sec, n = train_seconds(
        model,
        (x, y),
        _weighted_loss(w.to(device)),
        lambda p: torch.optim.AdamW(p, lr=t.lr, weight_decay=t.weight_decay),
        device,
        s.train,
        channels_last=True,  # tasks/segmentation/train.py: FitOptions(channels_last=True)
    )
    h, w_ = s.erfnet_hw
    return Measured(batch / sec, f"{h}x{w_}, AdamW, class-weighted CE; median of {n} steps")


# ----------------------------------------------------------------------------------------------------------------
# acoustic event detection, localisation, transcoder, text-to-audio classifiers


def aed_inference(device: Any, s: Sizes, params: Any, batch: int) -> Measured:
    import torch

    import models

    f, m = params.aed.features, params.aed.model
    shape = (f.n_freq_bins, f.n_frames) if not s.quick else (64, 64)
    torch.manual_seed(0)
    model = models.get("aed_cnn")(
        n_classes=N_CLASSES, input_shape=shape, width=s.aed_width, dense=m.dense, dropout=m.dropout
    )
    sec, n = infer_seconds(model, torch.rand(batch, 1, *shape), device, s.infer)
    note = f"1x{shape[0]}x{shape[1]} ({f.chunk_seconds:g} s chunk), width {s.aed_width}, {precision(device)}"
    return Measured(1000 * sec / batch, f"{note}; median of {n}")


def localisation_stage1(device: Any, s: Sizes, params: Any, batch: int) -> Measured:
    import torch

    from tasks.features.logmel import PRESETS, n_frames
    from tasks.localisation.train import _step, build_model, stage_loss

    p = params.localisation
    k, mel = len(p.scenes.categories), PRESETS["localisation"]
    frames = n_frames(mel, round(s.loc_clip_seconds * mel.sample_rate))
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    data = (
        torch.randn(batch, 3, s.loc_side, s.loc_side, generator=gen),  # ImageNet-normalised frames
        torch.randn(batch, 1, frames, mel.n_mels, generator=gen),
        torch.randint(0, 2, (batch, k), generator=gen).float(),
        torch.randint(0, 2, (batch, k), generator=gen).float(),
    )
    sp = p.stage1
    sec, n = train_seconds(
        build_model(p),
        data,
        _step(stage_loss(1, p)),
        lambda q: torch.optim.SGD(q, lr=sp.lr, momentum=sp.momentum, weight_decay=sp.weight_decay),
        device,
        s.train,
    )
    side = f"{s.loc_side}x{s.loc_side}"
    return Measured(batch / sec, f"{side} frames, {frames}x{mel.n_mels} log-mel, SGD, stage-1 loss; median of {n}")


def transcoder_training(device: Any, s: Sizes, params: Any, batch: int) -> Measured:
    import torch

    import models
    from tasks.transcoder.pairs import CHUNK_FRAMES
    from tasks.transcoder.train import _mels_step

    tp = params.transcoder.train
    frames, mels = CHUNK_FRAMES["logmel_pann"], 64  # one second of PANN log-mel per chunk
    torch.manual_seed(0)
    model = models.get("transcoder_cnn")(channels=s.transcoder_channels, layers=tp.layers, kernel=tuple(tp.kernel))
    gen = torch.Generator().manual_seed(1)
    x, mel = torch.randn(batch, frames, mels, generator=gen), torch.randn(batch, frames, mels, generator=gen)
    sec, n = train_seconds(model, (x, mel), _mels_step, lambda q: torch.optim.Adam(q, lr=tp.lr), device, s.train)
    note = f"CNN-mels, {s.transcoder_channels} channels x {tp.layers} layers, chunks of {frames}x{mels}, Adam"
    return Measured(batch * frames / sec, f"{note}; median of {n} steps")


def crnn_training(device: Any, s: Sizes, params: Any, batch: int) -> Measured:
    import torch

    import models
    from tasks.features.logmel import PRESETS, n_frames
    from tasks.text_to_audio.train import _train_step

    e, mel = params.text_to_audio.experiment, PRESETS["t2a"]
    shape = (n_frames(mel, round(params.text_to_audio.features.clip_seconds * mel.sample_rate)), mel.n_mels)
    torch.manual_seed(0)
    model = models.get("crnn")(n_classes=N_CLASSES, input_shape=shape, channels=s.crnn_channels, dropout=e.dropout)
    gen = torch.Generator().manual_seed(1)
    x, y = torch.randn(batch, 1, *shape, generator=gen), torch.randint(0, N_CLASSES, (batch,), generator=gen)
    opt = lambda q: torch.optim.Adam(q, lr=e.lr, weight_decay=e.weight_decay)  # noqa: E731
    sec, n = train_seconds(model, (x, y), _train_step, opt, device, s.train)
    return Measured(batch / sec, f"{shape[0]}x{shape[1]} log-mel, {s.crnn_channels} channels, Adam; median of {n}")


# ----------------------------------------------------------------------------------------------------------------
# log-mel feature store, end to end from files


def shared_folder() -> Path:
    # as tests/helpers/paths.py: beside the checkout, or where SOUNDFLOW_SHARED points
    return Path(os.environ.get("SOUNDFLOW_SHARED", ROOT.parent / "shared"))


def audio_table(tmp: Path, limit: int | None) -> tuple[Any, str]:
    """(path, label, fold) of ESC-10 when the shared data holds it, else of generated 5 s clips."""
    import pandas as pd

    esc = shared_folder() / "data" / "esc10"
    if (esc / "meta.csv").is_file():
        meta = pd.read_csv(esc / "meta.csv")
        paths = [str(esc / "audio" / f) for f in meta["filename"]]
        df, name = pd.DataFrame({"path": paths, "label": meta["target"], "fold": meta["fold"]}), "ESC-10"
    else:
        from tasks.procedural.urban_sounds import generate_dataset

        per_class = 1 if limit else 10
        csv = generate_dataset(tmp / "synth", clips_per_class=per_class, duration_range=(5.0, 5.0), progress=False)
        meta = pd.read_csv(csv)
        audio = Path(csv).parents[1] / "audio"  # UrbanSound8K layout: audio/fold{k}/{file}
        paths = [str(audio / f"fold{k}" / f) for f, k in zip(meta["slice_file_name"], meta["fold"])]
        df, name = pd.DataFrame({"path": paths, "label": meta["classID"], "fold": meta["fold"]}), "generated clips"
    return (df.iloc[:limit].reset_index(drop=True) if limit else df), name


def logmel_store(device: Any, s: Sizes) -> Measured:
    import soundfile as sf
    from common import synchronize

    from tasks.features.logmel import PRESETS
    from tasks.features.representations import LogMelFeatures
    from tasks.features.store import extract_features

    workers = 1 if s.quick else min(8, os.cpu_count() or 1)  # decoding stays on the CPU threads
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        df, name = audio_table(tmp, s.logmel_clips)
        seconds = float(sum(sf.info(p).duration for p in df["path"]))
        rep = LogMelFeatures(PRESETS["pann"])
        kw = dict(workers=workers, device=device, progress=False)
        with contextlib.redirect_stdout(sys.stderr):  # the store's summary lines: progress, not the table
            extract_features(df.iloc[:2], tmp / "warm", rep, **kw)  # FFT plans, filterbank upload: not timed
            synchronize(device)
            t0 = time.perf_counter()
            extract_features(df, tmp / "store", rep, **kw)
            synchronize(device)
            wall = time.perf_counter() - t0
    note = f"{len(df)} clips, {seconds:.0f} s of {name}, PANN preset to float16 HDF5 shards, {workers} reading threads"
    return Measured(seconds / wall, f"{note}; wall {wall:.2f} s")


# ----------------------------------------------------------------------------------------------------------------
# AudioLDM2


@dataclass
class TinyAudioLdm2:
    """The tiny pipeline, saved once per suite run (``folder``); built on first use."""

    folder: Path
    built: bool = False

    def path(self) -> str:
        if not self.built:
            from tests.helpers.audioldm2 import save_tiny_pipeline

            quiet_huggingface()
            save_tiny_pipeline(self.folder)
            self.built = True
        return str(self.folder)


def quiet_huggingface() -> None:
    """No progress bars or config warnings from diffusers and transformers in the suite's output."""
    from diffusers.utils import logging as diffusers_logging
    from transformers.utils import logging as transformers_logging

    for lib in (diffusers_logging, transformers_logging):
        lib.disable_progress_bar()
        lib.set_verbosity_error()


def audioldm2_clips(device: Any, s: Sizes, params: Any, batch: int, tiny: TinyAudioLdm2) -> Measured:
    from tasks.text_to_audio.audioldm2 import AudioLdm2Generator
    from tasks.text_to_audio.generators import ClipRequest, clip_seed

    g = params.text_to_audio.generate
    steps = s.audioldm2_steps or g.audioldm2.steps
    gen = AudioLdm2Generator(tiny.path(), steps, g.audioldm2.guidance_scale, g.negative_prompt, device=device.type)
    prompt = "A clear sound of a dog barking in an urban context"
    reqs = [ClipRequest("dog_bark", prompt, i, clip_seed(g.seed, prompt, i)) for i in range(batch)]
    sec, n = median_seconds(lambda: gen.generate(reqs, s.audioldm2_seconds, g.sample_rate), device, s.generate)
    dtype = "fp16" if device.type == "cuda" else "fp32"
    note = (
        f"tiny random pipeline (tests/helpers/audioldm2.py): the real weights ({g.audioldm2.model}) are not "
        f"reachable here; {steps} steps, guidance {g.audioldm2.guidance_scale:g}, {s.audioldm2_seconds:g} s clips, "
        f"{dtype}"
    )
    return Measured(batch / sec, f"{note}; median of {n}")
