"""Paired 1 s chunks: third-octave levels (8 x 29) and the teacher's Mel target of the same second.

Both come from the feature store (:mod:`tasks.features.store`): one ``third_octave`` store and one Mel store
(``logmel_pann`` for the PANN teachers, ``logmel_yamnet`` for YAMNet) per source, extracted from the same
table, under ``<out>/<source>/<representation>/``, with the source table and its split beside them
(``<out>/<source>/table.csv``). Second ``k`` of a clip pairs third-octave frames ``8k .. 8k+7`` (125 ms
each) with Mel frames ``100k .. 100k+100`` (PANN: 101 frames centred from k s to k+1 s) or
``100k .. 100k+95`` (a 96-frame YAMNet patch); a clip gives as many chunks as both stores cover.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from soundflow.io import remove_path, write_text
from tasks.features.logmel import PRESETS
from tasks.features.representations import make_representation
from tasks.features.sets import extract_set
from tasks.features.store import open_store
from tasks.features.third_octave import ThirdOctaveParams
from tasks.transcoder.sources import split_by_clip

MEL_FOR_TEACHER = {"pann_cnn14": "logmel_pann", "pann_resnet38": "logmel_pann", "yamnet": "logmel_yamnet"}
CHUNK_FRAMES = {"logmel_pann": 101, "logmel_yamnet": 96}  # Mel frames of one chunk
TABLE = "table.csv"


def mel_frames_per_second(mel: str) -> int:
    p = PRESETS[mel[len("logmel_") :]]
    return p.sample_rate // p.hop_length


def third_octave_frames_per_second() -> int:
    p = ThirdOctaveParams()
    return p.sample_rate // p.hop


@dataclass(frozen=True)
class StoreOptions:
    shard_size: int
    workers: int
    device: str
    max_bad_fraction: float


def build_source(
    table: pd.DataFrame,
    out: Path,
    mel: str,
    clip_seconds: float | None,
    split: np.ndarray,
    root: Path,
    opts: StoreOptions,
) -> dict[str, int]:
    """The third-octave and Mel stores of one source's clips and its ``table.csv`` (with ``split``)."""
    out.mkdir(parents=True, exist_ok=True)
    store_table = pd.DataFrame({"path": table["path"], "label": table["labels"], "fold": table["group"].astype(str)})
    counts = {}
    for name in ("third_octave", mel):
        rep = make_representation(name, clip_seconds=clip_seconds)
        summary = extract_set(
            store_table,
            out / name,
            rep,
            root=root,
            shard_size=opts.shard_size,
            workers=opts.workers,
            device=opts.device,
            max_bad_fraction=opts.max_bad_fraction,
            runner="local",
        )
        counts[f"{name}_items"] = summary["n_items"]
        counts["skipped"] = max(counts.get("skipped", 0), summary["n_skipped"])
    with_split = table.assign(split=split)
    write_text(out / TABLE, with_split.to_csv(index=False))
    counts["clips"] = len(table)
    return counts


def remove_other_sources(out_root: Path, wanted: set[str]) -> None:
    for folder in sorted(Path(out_root).glob("*")):
        if folder.is_dir() and folder.name not in wanted:
            remove_path(folder)


def source_split(
    table: pd.DataFrame, val_fraction: float, test_fraction: float, seed: int, by_fold: bool
) -> np.ndarray:
    """The split column: folds as they are for a cross-validated source, else train/val/test by clip."""
    if by_fold:
        return table["group"].astype(str).to_numpy(dtype=object)
    return split_by_clip(len(table), val_fraction, test_fraction, seed)


@dataclass(frozen=True)
class Pairs:
    """Paired chunks of one source: inputs, targets and where each chunk comes from."""

    third_octave: np.ndarray  # (n, 8, 29) dB
    mel: np.ndarray  # (n, frames, 64)
    clip: np.ndarray  # (n,) row of the source table
    second: np.ndarray  # (n,) which second of its clip
    table: pd.DataFrame  # the source table (path, labels, events, group, split)

    def subset(self, mask: np.ndarray) -> Pairs:
        return Pairs(self.third_octave[mask], self.mel[mask], self.clip[mask], self.second[mask], self.table)

    def split_mask(self, *names: str) -> np.ndarray:
        return np.isin(self.table["split"].astype(str).to_numpy()[self.clip], list(names))


def chunks_of_clip(n_to: int, n_mel: int, mel: str) -> int:
    """How many whole 1 s chunks both stores cover for one clip."""
    span, fps = CHUNK_FRAMES[mel], mel_frames_per_second(mel)
    return max(0, min(n_to // third_octave_frames_per_second(), (n_mel - span) // fps + 1))


def load_pairs(source_dir: Path, mel: str, clip_seconds: float | None = None, splits: tuple[str, ...] = ()) -> Pairs:
    """Every chunk of the clips of ``source_dir`` (only those of ``splits`` when given), read into memory."""
    table = pd.read_csv(Path(source_dir) / TABLE, keep_default_na=False, dtype={"split": str, "group": str})
    to_rep = make_representation("third_octave", clip_seconds=clip_seconds)
    mel_rep = make_representation(mel, clip_seconds=clip_seconds)
    tpf, mfps, span = third_octave_frames_per_second(), mel_frames_per_second(mel), CHUNK_FRAMES[mel]
    xs, ys, clips, seconds = [], [], [], []
    with open_store(source_dir / "third_octave", to_rep) as to_store, open_store(source_dir / mel, mel_rep) as m_store:
        mel_pos = {int(r): i for i, r in enumerate(m_store.table["row"])}
        for i, row in enumerate(to_store.table["row"].astype(int)):
            if row not in mel_pos or (splits and table.at[row, "split"] not in splits):
                continue
            to, m = to_store[i][0], m_store[mel_pos[row]][0]
            for k in range(chunks_of_clip(len(to), len(m), mel)):
                xs.append(to[k * tpf : (k + 1) * tpf])
                ys.append(m[k * mfps : k * mfps + span])
                clips.append(row)
                seconds.append(k)
    if not xs:
        raise ValueError(f"{source_dir}: no 1 s chunk in the stores (splits {list(splits) or 'all'})")
    return Pairs(np.stack(xs), np.stack(ys), np.asarray(clips), np.asarray(seconds), table)
