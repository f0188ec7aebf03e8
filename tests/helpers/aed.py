"""Spectrogram-chunk parameters at test size: 16 kHz, 3 s chunks, a few dozen bins and frames."""

from __future__ import annotations

from typing import Any

from tasks.features.params import AedFeatureParams

TINY = {
    "sample_rate": 16000,
    "chunk_seconds": 3.0,
    "chunk_hop_seconds": 1.0,
    "min_last_chunk_seconds": 1.0,
    "window_seconds": 0.02,
    "frame_hop_seconds": 0.047,
    "n_freq_bins": 32,
    "n_frames": 64,
    "window": "hann",
    "scale": "linear",
    "workers": 2,
}


def tiny_aed_features(**changes: Any) -> AedFeatureParams:
    """The test-size parameters, with ``changes`` applied."""
    return AedFeatureParams(**{**TINY, **changes})
