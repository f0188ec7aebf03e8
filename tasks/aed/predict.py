"""Top-k class predictions for arbitrary audio files from a trained AED checkpoint."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from soundflow.audio import load_audio
from soundflow.devices import pick_device
from tasks.aed.inference import chunk_probabilities, load_checkpoint
from tasks.features.params import AedFeatureParams
from tasks.features.stft_chunks import spectrogram_chunks


@dataclass(frozen=True)
class FilePrediction:
    path: Path
    sample_rate: int  # of the file as recorded
    n_chunks: int
    seconds_per_chunk: float  # feature extraction + forward pass, averaged over the file's chunks
    top: list[tuple[str, float]]  # (class, pooled probability), best first

    def render(self) -> str:
        lines = [
            f"{self.path}",
            f"  sample rate: {self.sample_rate} Hz, {self.n_chunks} chunk(s), "
            f"{1000 * self.seconds_per_chunk:.1f} ms per chunk",
        ]
        width = max([24] + [len(name) for name, _ in self.top])  # AudioSet's names run longer than 24
        lines += [f"  {name:<{width}s} {100 * p:6.2f}%" for name, p in self.top] or [
            "  (no class above the confidence threshold)"
        ]
        return "\n".join(lines)


def predict_files(
    checkpoint: Path,
    files: list[Path],
    results: int = 5,
    confidence: float = 0.01,
    overlap: float = 2.0,
    device: str = "auto",
) -> list[FilePrediction]:
    """Classify each file: chunk it (hop = chunk length - ``overlap``), average chunk probabilities,
    keep the ``results`` best classes whose pooled probability is at least ``confidence``."""
    model, ckpt = load_checkpoint(checkpoint, pick_device(device))
    fp = {"workers": 0, **ckpt["feature_params"]}  # reading threads: not a feature parameter, absent from stores
    if not 0 <= overlap < fp["chunk_seconds"]:
        raise ValueError(f"overlap must be in [0, {fp['chunk_seconds']}) seconds, got {overlap}")
    fp["chunk_hop_seconds"] = fp["chunk_seconds"] - overlap
    p = AedFeatureParams.model_validate(fp)
    dev = next(model.parameters()).device
    out = []
    for path in map(Path, files):
        audio = load_audio(path, p.sample_rate)
        t0 = time.perf_counter()
        specs, _ = spectrogram_chunks(audio, p.sample_rate, p)
        probs = chunk_probabilities(model, specs)
        if dev.type == "cuda":
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - t0
        pooled = probs.mean(0)
        order = np.argsort(-pooled)[:results]
        top = [(ckpt["classes"][i], float(pooled[i])) for i in order if pooled[i] >= confidence]
        out.append(FilePrediction(path, sf.info(str(path)).samplerate, len(specs), elapsed / len(specs), top))
    return out
