"""The ``transcoder_features`` stage's work: paired third-octave / Mel stores of every source the workflow uses.

Sources (``transcoder.data``): the training source (the transcoders and a trained teacher learn on its
train split), the multilabel and the single-label evaluation sources; one folder each under
``out_root/<source>/`` (:mod:`tasks.transcoder.pairs`). A cross-validated single-label source keeps its
folds; the others are split 75 / 12.5 / 12.5 % by clip (``val_fraction``, ``test_fraction``). The folder
is kept between runs: a rerun resumes every finished shard; folders of sources no longer used are removed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from soundflow.devices import pick_device
from soundflow.io import write_json
from tasks.features.params import FeatureParams
from tasks.transcoder.pairs import MEL_FOR_TEACHER, StoreOptions, build_source, remove_other_sources, source_split
from tasks.transcoder.params import TranscoderParams
from tasks.transcoder.sources import source_table


@dataclass(frozen=True)
class SourcePaths:
    """Where the sources live, relative to ``root``."""

    root: Path
    soundscapes: str
    urban_synth: str
    datasets_index: str


def used_sources(p: TranscoderParams) -> dict[str, bool]:
    """source name -> cross-validated by folds (the single-label source), in first-use order."""
    out = {p.data.train_source: False, p.data.multilabel_source: False}
    out.setdefault(p.data.singlelabel_source, True)
    return out


def build_transcoder_features(
    p: TranscoderParams, f: FeatureParams, src: SourcePaths, out_root: Path, summary_json: Path
) -> Path:
    """Stores and split tables of every used source under ``out_root``; their counts to ``summary_json``."""
    sources = used_sources(p)
    remove_other_sources(out_root, set(sources))
    mel = MEL_FOR_TEACHER[p.teacher.name]
    opts = StoreOptions(f.shard_size, f.workers, str(pick_device(p.device)), p.data.max_bad_fraction)
    summary = {}
    for name, by_fold in sources.items():
        table = source_table(name, src.root, src.soundscapes, src.urban_synth, src.datasets_index)
        split = source_split(table, p.data.val_fraction, p.data.test_fraction, p.data.seed, by_fold)
        clip = p.data.singlelabel_clip_seconds if by_fold else None
        summary[name] = build_source(table, out_root / name, mel, clip, split, src.root, opts)
    write_json(summary_json, summary)
    return out_root
