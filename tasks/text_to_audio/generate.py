"""The generation stage: per class, ``real count x max(multipliers)`` clips, as wav files in the real layout.

Clip ``k`` of class ``c`` is generated from prompt ``k mod templates`` of :mod:`tasks.text_to_audio.prompts`,
with the seed :func:`~tasks.text_to_audio.generators.clip_seed` of (base seed, prompt, k), and goes to fold
``k mod n_folds + 1`` of the real dataset's folds, so every fold receives ``multiplier`` times its share of
real clips and the "real with some folds replaced" sets find generated clips in every fold. A multiplier
``m`` uses the clips ``k < round(real count x m)`` (:func:`clips_for_multiplier`): raising the largest
multiplier generates only the clips still missing.

Layout (UrbanSound8K's, which :func:`tasks.datasets.labelled_audio.read_labelled_audio` reads)::

    audio/fold<f>/<fsID>-<classID>-<k>-0.wav   16-bit PCM, one per clip, each written atomically
    metadata/UrbanSound8K.csv                  slice_file_name, fsID, start, end, salience, fold, classID, class
    metadata/prompts.csv                       slice_file_name, class, index, prompt, seed
    generator.json                             what made the clips (generator, its settings, prompts, seed)

Resume: a clip is not generated again when its file holds the bytes recorded for it when it was written
(``metadata/clips.sha256.json``, :mod:`tasks.text_to_audio.clip_record`; written every few seconds and at
the end, so a killed run redoes at most those seconds), as long as ``generator.json`` names the same generator
and settings; with other ones, the folder's clips are removed first. A clip altered, truncated or replaced
by hand, whatever its size and modification time, is generated again. Loudness normalisation,
optional: each clip is scaled to an RMS of ``loudness_dbfs`` dB full scale (peak kept below 0.99).

A real-only experiment (``experiment.data_types: [real]``) needs no generator: nothing is generated, no
generator is made and the prompt file is not read; the metadata lists no clip. Clips of an earlier run stay
in ``audio/`` (unlisted), so that going back to a generated training set with the same generator reuses them.
"""

from __future__ import annotations

import csv
import json
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
from tqdm import tqdm

from soundflow.digests import stream_hexdigest
from soundflow.io import atomic_path, remove_path, write_json
from tasks.procedural.urban_sounds import METADATA_COLUMNS
from tasks.text_to_audio.clip_record import intact, read_record, write_record
from tasks.text_to_audio.generators import ClipRequest, Generator, clip_seed, make_generator
from tasks.text_to_audio.params import GenerateParams, RealDataParams, uses_generated
from tasks.text_to_audio.prompts import PromptBook, PromptFileError, load_prompts
from tasks.text_to_audio.real import real_clips

IDENTITY = "generator.json"
PEAK = 0.99
FS_ID_BASE = 90_000_000  # generated fsIDs: far above UrbanSound8K's Freesound ids in the same table layout
RECORD_EVERY_S = 10.0  # the clip record is rewritten at most this often while generating (and at the end)


def clips_for_multiplier(real_count: int, multiplier: float) -> int:
    """Generated clips of a class with ``real_count`` real clips at ``multiplier`` (at least one)."""
    return max(1, round(real_count * multiplier))


def normalise_loudness(wave: np.ndarray, dbfs: float | None) -> np.ndarray:
    """``wave`` scaled to an RMS of ``dbfs`` dB full scale (None: as it is), its peak then limited to 0.99."""
    wave = np.asarray(wave, dtype=np.float32)
    if dbfs is not None:
        rms = float(np.sqrt(np.mean(np.square(wave, dtype=np.float64))))
        if rms > 0:
            wave = wave * np.float32(10 ** (dbfs / 20) / rms)
    peak = float(np.max(np.abs(wave))) if wave.size else 0.0
    return wave * np.float32(PEAK / peak) if peak > PEAK else wave


def plan_requests(real: pd.DataFrame, book: PromptBook, p: GenerateParams) -> list[tuple[ClipRequest, int, int]]:
    """(request, fold, classID) of every clip the largest multiplier needs, class by class."""
    folds = sorted(real["fold"].unique())
    plan = []
    for (label, name), rows in real.groupby(["label", "class"], sort=True):
        n = clips_for_multiplier(len(rows), max(p.multipliers))
        for k in range(n):
            prompt = book.prompt(str(name), k)
            plan.append(
                (
                    ClipRequest(str(name), prompt, k, clip_seed(p.seed, prompt, k)),
                    int(folds[k % len(folds)]),
                    int(label),
                )
            )
    return plan


def _file_name(class_id: int, k: int) -> str:
    return f"{FS_ID_BASE + class_id * 100_000 + k}-{class_id}-{k}-0.wav"


def _identity(gen: Generator, book: PromptBook, p: GenerateParams) -> dict[str, object]:
    keys = ("seconds", "sample_rate", "seed", "loudness_dbfs", "negative_prompt")
    return {**gen.identity(), **{k: getattr(p, k) for k in keys}, "prompts": asdict(book)}


def _reset_if_other(out_dir: Path, identity: dict[str, object]) -> None:
    """Remove clips made by another generator or with other settings (they must not be reused)."""
    file = out_dir / IDENTITY
    if file.is_file() and json.loads(file.read_text()) == json.loads(json.dumps(identity)):
        return
    for sub in ("audio", "metadata"):
        if (out_dir / sub).exists():
            remove_path(out_dir / sub)
    write_json(file, identity)


def _write_clip(path: Path, wave: np.ndarray, sample_rate: int) -> str:
    """Write the clip atomically; the sha256 of the bytes written (hashed before the rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        sf.write(tmp, wave, sample_rate, subtype="PCM_16", format="WAV")
        return stream_hexdigest(tmp)  # not remembered: the file is about to be renamed


def _remove_unplanned(audio_dir: Path, planned: set[Path]) -> int:
    """Clips a larger multiplier left that the plan no longer lists (and leftovers of killed writes)."""
    extra = [f for f in audio_dir.glob("fold*/*") if f.is_file() and f not in planned] if audio_dir.is_dir() else []
    for f in extra:
        f.unlink()
    return len(extra)


def _write_csv(path: Path, header: tuple[str, ...], rows: list[list[object]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


_GENERATORS: dict[str, Generator] = {}  # per Dask worker process: its generator, made (or loaded) once


def generate_batch(
    requests: list[ClipRequest], files: list[Path], p: GenerateParams, gen: Generator | None = None
) -> list[str]:
    """Generate one batch of clips into ``files`` (each written atomically); the sha256 of each file written.

    A clip depends on its request alone (its seed), so a batch gives the same files in whichever process it
    runs: in this one (``gen`` given) or on a Dask worker, which makes the generator once for all its batches.
    """
    if gen is None:
        key = p.model_dump_json(exclude={"runner"})
        if key not in _GENERATORS:
            _GENERATORS[key] = make_generator(p)
        gen = _GENERATORS[key]
    waves = gen.generate(requests, p.seconds, p.sample_rate)
    return [
        _write_clip(path, normalise_loudness(wave, p.loudness_dbfs), p.sample_rate) for path, wave in zip(files, waves)
    ]


def _generate(
    batches: list[list[int]],
    plan: list[tuple[ClipRequest, int, int]],
    paths: list[Path],
    p: GenerateParams,
    gen: Generator,
    out_dir: Path,
    record: dict[str, str],
    progress: bool,
) -> None:
    """Generate the clips of ``batches`` (indices into ``plan``), recording each clip's digest as it is written."""
    jobs = [([plan[i][0] for i in batch], [paths[i] for i in batch], p) for batch in batches]
    rel = [path.relative_to(out_dir).as_posix() for path in paths]
    if p.runner == "dask":
        from tasks.features.dask_shards import map_on_dask  # Prefect and Dask only for this runner

        for batch, digests in zip(batches, map_on_dask(generate_batch, jobs, label="t2a-generate")):
            record.update(zip((rel[i] for i in batch), digests))
    else:
        bar = tqdm(total=sum(map(len, batches)), desc=f"t2a_generate ({gen.name})", unit="clip", disable=not progress)
        saved = time.monotonic()
        for batch, (requests, files, _) in zip(batches, jobs):
            record.update(zip((rel[i] for i in batch), generate_batch(requests, files, p, gen)))
            bar.update(len(files))
            if time.monotonic() - saved > RECORD_EVERY_S:  # a killed run then redoes at most these seconds
                write_record(out_dir, record)
                saved = time.monotonic()
        bar.close()
    write_record(out_dir, record)


def _check_classes(book: PromptBook, real: pd.DataFrame, prompts_yaml: Path, real_root: Path) -> None:
    missing = sorted(set(real["class"].astype(str)) - set(book.classes))
    if missing:
        raise PromptFileError(
            f"{prompts_yaml}: no prompt for the class(es) {', '.join(missing)} of {real_root}; add them under "
            "'classes', or train on real clips only (text_to_audio.experiment.data_types: [real])"
        )


def _write_metadata(out_dir: Path, meta: list[list[object]], prompts: list[list[object]]) -> None:
    _write_csv(out_dir / "metadata" / "UrbanSound8K.csv", METADATA_COLUMNS, meta)
    _write_csv(out_dir / "metadata" / "prompts.csv", ("slice_file_name", "class", "index", "prompt", "seed"), prompts)


def generate_clips(
    real_root: Path,
    real_p: RealDataParams,
    prompts_yaml: Path,
    p: GenerateParams,
    out_dir: Path,
    progress: bool = True,
    data_types: list[str] | None = None,
) -> dict[str, int]:
    """Generate the clips still missing in ``out_dir`` and write its metadata; returns counts.

    ``data_types`` (``experiment.data_types``; None: as if a generated set were used): when none of them uses
    generated clips, nothing is generated and the metadata lists no clip.
    """
    out_dir = Path(out_dir)
    if data_types is not None and not uses_generated(data_types):
        out_dir.mkdir(parents=True, exist_ok=True)
        _write_metadata(out_dir, [], [])
        print(f"t2a_generate: no clip generated: no training set of data_types {list(data_types)} uses generated ones")
        return {"clips": 0, "generated": 0, "reused": 0, "removed": 0}
    real = real_clips(real_root, real_p)
    book = load_prompts(prompts_yaml)
    _check_classes(book, real, Path(prompts_yaml), Path(real_root))
    gen = make_generator(p)
    out_dir.mkdir(parents=True, exist_ok=True)
    _reset_if_other(out_dir, _identity(gen, book, p))
    plan = plan_requests(real, book, p)
    paths = [out_dir / "audio" / f"fold{fold}" / _file_name(cid, r.index) for r, fold, cid in plan]
    removed = _remove_unplanned(out_dir / "audio", set(paths))
    rels = [path.relative_to(out_dir).as_posix() for path in paths]
    record = {rel: d for rel, d in read_record(out_dir).items() if rel in set(rels)}
    todo = [i for i, rel in enumerate(rels) if not intact(out_dir, rel, record)]
    batches = [todo[start : start + p.batch_size] for start in range(0, len(todo), p.batch_size)]
    _generate(batches, plan, paths, p, gen, out_dir, record, progress)
    meta = [
        [pt.name, FS_ID_BASE + cid * 100_000 + r.index, 0.0, p.seconds, 1, fold, cid, r.label]
        for (r, fold, cid), pt in zip(plan, paths)
    ]
    prompts = [[pt.name, r.label, r.index, r.prompt, r.seed] for (r, _, _), pt in zip(plan, paths)]
    _write_metadata(out_dir, meta, prompts)
    counts = {"clips": len(plan), "generated": len(todo), "reused": len(plan) - len(todo), "removed": removed}
    print(f"t2a_generate: {counts['generated']} clip(s) generated, {counts['reused']} reused, {removed} removed")
    return counts
