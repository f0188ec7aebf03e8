"""Training batches of audiovisual pairs: ImageNet-normalised frames with horizontal flips, log-mel audio."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from tasks.features.audiovisual import AudioVisualSplit
from tasks.features.frames import imagenet_normalise
from tasks.localisation.build import representation
from tasks.localisation.params import LocDataParams


def open_split(hdf5_dir: Path, split: str, data: LocDataParams, n_classes: int) -> AudioVisualSplit:
    return AudioVisualSplit(Path(hdf5_dir) / split, representation(data, n_classes))


class PairDataset(Dataset):
    """``(frame (3, S, S), audio (1, T, 64), audio_label (K,), visual_label (K,))``; the split is small
    enough at the pipeline's sizes to hold in memory (frames as uint8)."""

    def __init__(self, split: AudioVisualSplit, flip_prob: float = 0.0, seed: int = 0) -> None:
        self.video = torch.from_numpy(split.column("video"))
        self.audio = torch.from_numpy(split.column("audio")).float()
        self.audio_label = torch.from_numpy(split.column("audio_label")).float()
        self.visual_label = torch.from_numpy(split.column("visual_label")).float()
        self.flip_prob = flip_prob
        self.rng = np.random.default_rng(seed)  # saved and restored with each epoch's state

    def __len__(self) -> int:
        return len(self.video)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, ...]:
        frame = imagenet_normalise(self.video[i : i + 1])[0]
        if self.flip_prob and self.rng.random() < self.flip_prob:
            frame = frame.flip(-1)
        return frame, self.audio[i][None], self.audio_label[i], self.visual_label[i]
