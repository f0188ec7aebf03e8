"""Device choice and mixed precision, shared by every training and inference task."""

from __future__ import annotations

import os

import torch


def pick_device(name: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; asking for CUDA without one is an error, not a silent fallback."""
    if name == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device 'cuda' was asked for, but no CUDA device is available")
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and os.environ.get("LOCAL_RANK"):  # a rank of torchrun: its own GPU of the node
        return torch.device("cuda", int(os.environ["LOCAL_RANK"]))
    return torch.device(name)


def autocast(device: torch.device) -> torch.autocast:
    # bf16 keeps fp32's range, so no gradient scaler is needed; CPU runs stay fp32
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")
