"""The offline default data of the spectral transcoder: Scaper soundscapes mixed from procedural urban sounds.

A Scaper library (Salamon et al., 2017) is synthesised first, at ``library_sample_rate`` (the procedural
clips' 22,050 Hz by default, so the training soundscapes and the single-label clips share a band limit):
``library_clips_per_class`` dry events of each of the ten UrbanSound8K classes
(:func:`tasks.procedural.urban_sounds.synthesize_event`) under ``foreground/<class>/`` and one ambience of
each kind under ``background/<kind>/``. Each soundscape then mixes a random background with ``events``
events (uniform integer), each of a random class, onset uniform over the soundscape, duration uniform in
``event_duration``, SNR uniform in ``snr``. Its JAMS
annotation gives the multilabel truth: ``metadata.csv`` lists per soundscape the classes present and the
events as ``label@onset-offset`` (seconds), from which each 1 s chunk gets its labels
(:func:`tasks.transcoder.sources.chunk_labels`).

Everything is drawn from ``seed``; the folder is built in a temporary sibling and swapped in whole.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
from tqdm import tqdm

from soundflow.io import CC0_README_SECTION, generated_folder
from tasks.procedural.urban_sounds import BACKGROUNDS, CLASSES, synthesize_background, synthesize_event
from tasks.transcoder.params import TranscoderDataParams

README_TITLE = "# Transcoder soundscapes"
SAMPLE_RATE = 32000  # the soundscapes' rate: the third-octave and PANN Mel rate
DASK_GROUP = 8  # soundscapes per Dask task: a soundscape takes ~0.1-1 s, a Prefect task tens of ms of overhead


def build_library(folder: Path, p: TranscoderDataParams, rng: np.random.Generator) -> None:
    for label in CLASSES:
        (folder / "foreground" / label).mkdir(parents=True)
        for i in range(p.library_clips_per_class):
            wave = synthesize_event(label, p.library_event_seconds, p.library_sample_rate, rng)
            sf.write(folder / "foreground" / label / f"{label}_{i}.wav", wave, p.library_sample_rate, subtype="FLOAT")
    for kind in BACKGROUNDS:
        (folder / "background" / kind).mkdir(parents=True)
        wave = synthesize_background(kind, p.soundscape_seconds, p.library_sample_rate, rng)
        sf.write(folder / "background" / kind / f"{kind}.wav", wave, p.library_sample_rate, subtype="FLOAT")


def _scaper(library: Path, p: TranscoderDataParams, seed: int):  # noqa: ANN202 (scaper has no types)
    import scaper  # lazily: it pulls in the sox bindings

    rs = np.random.RandomState(seed)
    n_events = int(rs.randint(p.events[0], p.events[1] + 1))
    sc = scaper.Scaper(p.soundscape_seconds, str(library / "foreground"), str(library / "background"), random_state=rs)
    sc.ref_db, sc.sr = -20.0, SAMPLE_RATE
    sc.add_background(label=("choose", []), source_file=("choose", []), source_time=("const", 0.0))
    longest = min(p.event_duration[1], p.soundscape_seconds)
    for _ in range(n_events):
        sc.add_event(
            label=("choose", []),
            source_file=("choose", []),
            source_time=("const", 0.0),
            event_time=("uniform", 0.0, p.soundscape_seconds - longest),
            event_duration=("uniform", min(p.event_duration[0], longest), longest),
            snr=("uniform", *p.snr),
            pitch_shift=None,
            time_stretch=None,
        )
    return sc


def _generate(sc, wav: Path) -> list[tuple[str, float, float]]:  # noqa: ANN001
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # clipping fixes and shortened events are expected and recorded in the JAMS
        _, jam, _, _ = sc.generate(
            audio_path=str(wav),
            jams_path=str(wav.with_suffix(".jams")),
            allow_repeated_label=True,
            allow_repeated_source=True,
            reverb=None,
            fix_clipping=True,
            peak_normalization=True,
            disable_sox_warnings=True,
            disable_instantiation_warnings=True,
        )
    ann = jam.annotations.search(namespace="scaper")[0]
    return [
        (o.value["label"], float(o.time), float(o.time + o.duration))
        for o in ann.data
        if o.value["role"] == "foreground"
    ]


def events_text(events: list[tuple[str, float, float]]) -> str:
    return ";".join(f"{label}@{on:.3f}-{off:.3f}" for label, on, off in sorted(events, key=lambda e: e[1]))


def soundscape_rows(
    library: Path, audio_dir: Path, p: TranscoderDataParams, items: list[tuple[int, int]]
) -> list[dict]:
    """The soundscapes ``(index, seed)`` of ``items`` (wav + JAMS) into ``audio_dir``; their metadata rows.

    A soundscape depends on the library and its seed alone, so it is the same file in whichever process it
    is made (in this one, or on a Dask worker that sees ``library`` and ``audio_dir`` at the same paths).
    """
    rows = []
    for i, seed in items:
        wav = audio_dir / f"soundscape_{i:05d}.wav"
        events = _generate(_scaper(library, p, seed), wav)
        labels = ";".join(sorted({e[0] for e in events}))
        rows.append({"path": f"audio/{wav.name}", "labels": labels, "events": events_text(events)})
    return rows


def _synthesise(tmp: Path, p: TranscoderDataParams, seeds: list[int]) -> list[dict]:
    """Every soundscape's rows, in order: one after another here, or groups of them as tasks on Dask."""
    library, audio = tmp / "library", tmp / "audio"
    audio.mkdir()
    items = list(enumerate(seeds))
    if p.runner == "dask":
        from tasks.features.dask_shards import map_on_dask  # Prefect and Dask only for this runner

        groups = [(library, audio, p, items[k : k + DASK_GROUP]) for k in range(0, len(items), DASK_GROUP)]
        return [row for rows in map_on_dask(soundscape_rows, groups, label="soundscapes") for row in rows]
    return [row for item in tqdm(items, desc="soundscapes") for row in soundscape_rows(library, audio, p, [item])]


def generate_soundscapes(out_dir: Path, p: TranscoderDataParams) -> Path:
    """``p.soundscapes`` soundscapes (wav + JAMS) and ``metadata.csv`` (path, labels, events) in ``out_dir``."""
    rng = np.random.default_rng(p.seed)
    with generated_folder(out_dir, README_TITLE, "the transcoder_soundscapes stage") as tmp:
        build_library(tmp / "library", p, rng)
        # each soundscape's seed, drawn from the stream in soundscape order after the library's draws
        seeds = [int(rng.integers(2**31)) for _ in range(p.soundscapes)]
        rows = _synthesise(tmp, p, seeds)
        pd.DataFrame(rows).to_csv(tmp / "metadata.csv", index=False)
        readme = [README_TITLE, "", f"{p.soundscapes} Scaper soundscapes of procedural urban sounds.", ""]
        (tmp / "README.md").write_text("\n".join([*readme, *CC0_README_SECTION]))
    return out_dir
