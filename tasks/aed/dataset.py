"""The chunks of a chunk store as a torch dataset, for training, validation and evaluation alike."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, get_worker_info

from tasks.aed.features import ChunkIndex, open_chunks
from tasks.features.store import FeatureStore


class ChunkDataset(Dataset):
    """Spectrogram chunks ``rows`` (rows among all chunks) of a chunk store, read lazily (handles per worker).

    With ``roll_prob`` > 0 each item is, with that probability, rolled along the frequency axis by up to
    ``roll_max_fraction`` of the bins (the training augmentation), drawn from the dataset's own generator.
    """

    def __init__(
        self,
        store_dir: Path,
        rows: np.ndarray,
        labels: np.ndarray,
        roll_prob: float = 0.0,
        roll_max_fraction: float = 0.0,
        seed: int = 0,
    ) -> None:
        self.store_dir, self.rows, self.labels = Path(store_dir), np.asarray(rows), np.asarray(labels)
        self.roll_prob, self.roll_max_fraction = roll_prob, roll_max_fraction
        self.rng = np.random.default_rng(seed)
        self._store: FeatureStore | None = None

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        if self._store is None:
            self._store = open_chunks(self.store_dir)
        x = torch.from_numpy(self._store.item(int(self.rows[i])))
        if self.roll_prob and self.rng.random() < self.roll_prob:
            limit = int(self.roll_max_fraction * x.shape[0])
            if limit:
                x = torch.roll(x, int(self.rng.integers(-limit, limit + 1)), dims=0)
        return x.unsqueeze(0), int(self.labels[i])


def seed_worker_augmentation(worker_id: int) -> None:
    """Give a loader worker its own augmentation generator, seeded from its torch seed (worker ``init_fn``).

    A worker holds a copy of the dataset: without this every worker would repeat the same rolls. The
    worker seed comes from the loader's generator, which the resumable state restores, so a resumed
    run's workers draw what the uninterrupted run's did.
    """
    info = get_worker_info()
    info.dataset.rng = np.random.default_rng(info.seed)


def chunk_rows(index: ChunkIndex, file_ids: np.ndarray) -> np.ndarray:
    """The rows (among all chunks of the store) of the chunks of the files ``file_ids``."""
    return np.flatnonzero(np.isin(index.chunk_file, file_ids))
