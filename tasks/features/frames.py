"""Video frames for the localisation workflow (Qian et al., 2020; docs/methods.md#sound-localisation).

RGB frames are resized to 256 x 256 (bilinear, antialiased: PIL's
``Image.BILINEAR`` filter widens its support when downscaling) and stored as
uint8 NHWC; models get them ImageNet-normalised as float32 NCHW:
``(x / 255 - mean) / std`` with mean (0.485, 0.456, 0.406) and std
(0.229, 0.224, 0.225). The aspect ratio is not kept (frames are squashed),
as in the original.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from soundflow.inputs import InputError, require_nonempty_file

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class ImageError(InputError):
    """An image file that cannot be used; the message names the file and the problem."""


def load_image(path: str | os.PathLike[str]) -> np.ndarray:
    """Decode ``path`` to (H, W, 3) uint8 RGB; raises :class:`ImageError` for a missing or broken file."""
    path = Path(path)
    require_nonempty_file(path, ImageError)
    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB"))
    except Exception as err:  # PIL reports truncated or unknown files with several exception types
        raise ImageError(path, f"cannot decode image ({type(err).__name__}: {err})") from None


def resize_frames(images: np.ndarray, size: int = 256) -> np.ndarray:
    """(n, H, W, 3) uint8 -> (n, size, size, 3) uint8, bilinear with antialiasing."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ValueError(f"expected (n, H, W, 3) uint8, got {images.shape} {images.dtype}")
    out = np.empty((len(images), size, size, 3), dtype=np.uint8)
    for i, img in enumerate(images):
        if img.shape[:2] == (size, size):
            out[i] = img
        else:
            out[i] = np.asarray(Image.fromarray(img).resize((size, size), Image.BILINEAR))
    return out


def imagenet_normalise(batch: np.ndarray | torch.Tensor) -> torch.Tensor:
    """(n, H, W, 3) uint8 -> (n, 3, H, W) float32 ImageNet-normalised tensor."""
    x = torch.as_tensor(np.asarray(batch) if not isinstance(batch, torch.Tensor) else batch)
    if x.dim() != 4 or x.shape[-1] != 3 or x.dtype != torch.uint8:
        raise ValueError(f"expected (n, H, W, 3) uint8, got {tuple(x.shape)} {x.dtype}")
    mean = torch.tensor(IMAGENET_MEAN, dtype=torch.float32, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD, dtype=torch.float32, device=x.device).view(1, 3, 1, 1)
    return (x.permute(0, 3, 1, 2).float() / 255.0 - mean) / std
