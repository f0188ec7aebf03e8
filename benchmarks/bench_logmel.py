"""Log-mel extraction to HDF5 with the PANN preset: per-file librosa loop vs soundflow's feature store.

(a) what the original research code does: for each file ``librosa.load(sr=32000)``,
    ``librosa.feature.melspectrogram`` + ``power_to_db``, appended to one HDF5 file;
(b) ``tasks.features.store.extract_features`` with ``LogMelFeatures`` on the CPU (decoding and
    resampling in threads, torch batches, float16 shards);
(c) the same on CUDA, when a GPU is present (decoding stays on the CPU);
(e) with ``--dask``: the store's shards as Prefect tasks on a local Dask cluster (what
    ``features.runner: dask`` does), start-up of the Prefect server and of the cluster included;
(d) reading alone (decode + resample to 32 kHz, same threads, no transform, nothing written): the
    ceiling of any extractor on this machine, printed so the speed-up can be judged against it.

Audio: ``../shared/data/esc10/`` (meta.csv + audio/) relative to the repo root when present, else
100 x 5 s synthetic clips from ``tasks.procedural.urban_sounds.generate_dataset``.

    .venv/bin/python benchmarks/bench_logmel.py [--limit N] [--workers 2] [--repeat N] [--dask] [--json out.json]

The table gives each row's wall and CPU seconds and its speed as a fraction of (d)'s; the line under it, the
store's fraction (b) / (d) by both.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import h5py  # noqa: E402
import librosa  # noqa: E402
import pandas as pd  # noqa: E402
import soundfile as sf  # noqa: E402
from common import log, table  # noqa: E402

from tasks.features.logmel import AMIN_DB, PRESETS  # noqa: E402
from tasks.features.representations import LogMelFeatures  # noqa: E402
from tasks.features.store import extract_features  # noqa: E402

P = PRESETS["pann"]


def dataset(tmp: Path, limit: int | None) -> tuple[pd.DataFrame, str]:
    esc = ROOT.parent / "shared" / "data" / "esc10"
    if (esc / "meta.csv").is_file():
        meta = pd.read_csv(esc / "meta.csv")
        df = pd.DataFrame(
            {"path": [str(esc / "audio" / f) for f in meta["filename"]], "label": meta["target"], "fold": meta["fold"]}
        )
        name = "ESC-10 (shared/data/esc10)"
    else:
        from tasks.procedural.urban_sounds import generate_dataset

        log("no shared/data/esc10: generating 100 x 5 s synthetic clips")
        csv = generate_dataset(tmp / "synth", clips_per_class=10, duration_range=(5.0, 5.0), progress=False)
        meta = pd.read_csv(csv)
        audio = Path(csv).parents[1] / "audio"  # UrbanSound8K layout: audio/fold{k}/{file}
        paths = [audio / f"fold{k}" / f for f, k in zip(meta["slice_file_name"], meta["fold"])]
        df = pd.DataFrame({"path": [str(p) for p in paths], "label": meta["classID"], "fold": meta["fold"]})
        name = "urban_synth (generated)"
    if limit:
        df = df.iloc[:limit].reset_index(drop=True)
    return df, name


def librosa_loop(df: pd.DataFrame, out_h5: Path) -> None:
    with h5py.File(out_h5, "w") as h5:
        for i, path in enumerate(df["path"]):
            y, _ = librosa.load(path, sr=P.sample_rate, mono=True)
            mel = librosa.feature.melspectrogram(
                y=y,
                sr=P.sample_rate,
                n_fft=P.n_fft,
                hop_length=P.hop_length,
                win_length=P.win_length,
                window="hann",
                center=True,
                pad_mode="constant",
                power=2.0,
                n_mels=P.n_mels,
                fmin=P.fmin,
                fmax=P.fmax,
            )
            h5.create_dataset(f"{i:06d}", data=librosa.power_to_db(mel, ref=1.0, amin=AMIN_DB, top_db=None).T)


def dask_store(df: pd.DataFrame, tmp: Path, shard_size: int, workers: int) -> None:
    import os

    from soundflow import env

    # Prefect's home and offline settings for the flow's temporary server; numba's cache stays where the
    # librosa row found it warm
    os.environ.setdefault("NUMBA_CACHE_DIR", str(tmp / "numba"))
    env.configure(tmp)
    from tasks.features.dask_shards import extract_features_dask

    extract_features_dask(df, fresh(tmp / "store-dask"), LogMelFeatures(P), shard_size=shard_size, workers=workers)


def warm_up(path: str) -> None:
    """One clip through both paths first: numba's JIT (librosa) and torch's FFT plans are not what is measured."""
    import torch

    y, _ = librosa.load(path, sr=P.sample_rate, mono=True)
    librosa.power_to_db(
        librosa.feature.melspectrogram(
            y=y, sr=P.sample_rate, n_fft=P.n_fft, hop_length=P.hop_length, n_mels=P.n_mels, fmin=P.fmin, fmax=P.fmax
        )
    )
    LogMelFeatures(P).compute([y], torch.device("cpu"))


def read_only(df: pd.DataFrame, workers: int) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from soundflow.audio import load_audio

    with ThreadPoolExecutor(workers) as pool:
        for _ in pool.map(lambda p: load_audio(p, P.sample_rate), df["path"]):
            pass


def fresh(out_dir: Path) -> Path:
    """``out_dir`` emptied, and the input digests this process remembers dropped: every round of a row builds
    the whole store, hashing its inputs too, as a first run does."""
    from soundflow.digests import forget
    from soundflow.io import remove_path

    remove_path(out_dir)
    forget()
    return out_dir


def timed(fn) -> tuple[float, float]:
    """Wall and CPU seconds of ``fn()``; the CPU seconds are the whole process's, every thread included."""
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t0, time.process_time() - c0


def best(previous: dict | None, measured: tuple[float, float], clips: int, seconds: float, method: str) -> dict:
    wall, cpu = measured
    if previous is not None and previous["wall_seconds"] <= wall:
        return previous
    return {
        "method": method,
        "clips": clips,
        "audio_seconds": seconds,
        "wall_seconds": wall,
        "cpu_seconds": cpu,
        "audio_seconds_per_second": seconds / wall,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--limit", type=int, default=None, help="use only the first N clips")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--dask", action="store_true", help="add the Prefect + local Dask cluster row")
    ap.add_argument("--repeat", type=int, default=1, help="run the rows in turn N times, keep each one's fastest")
    ap.add_argument("--shard-size", type=int, default=100, help="clips per shard (per Dask task)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        df, name = dataset(tmp, args.limit)
        seconds = float(sum(sf.info(p).duration for p in df["path"]))
        log(f"{len(df)} clips, {seconds:.0f} s of audio from {name}")
        results: dict[str, dict] = {}
        warm_up(df["path"][0])
        import torch

        methods = [
            ("(a) librosa per-file loop", lambda: librosa_loop(df, tmp / "librosa.h5")),
            (
                f"(b) feature store, CPU (workers {args.workers})",
                lambda: extract_features(
                    df,
                    fresh(tmp / "store-cpu"),
                    LogMelFeatures(P),
                    workers=args.workers,
                    shard_size=args.shard_size,
                    progress=False,
                ),
            ),
        ]
        if torch.cuda.is_available():
            methods.append(
                (
                    f"(c) feature store, CUDA (workers {args.workers})",
                    lambda: extract_features(
                        df,
                        fresh(tmp / "store-cuda"),
                        LogMelFeatures(P),
                        workers=args.workers,
                        device="cuda",
                        progress=False,
                    ),
                )
            )
        if args.dask:
            methods.append(
                (
                    f"(e) feature store, Prefect + local Dask cluster (shards of {args.shard_size})",
                    lambda: dask_store(df, tmp, args.shard_size, args.workers),
                )
            )
        methods.append(
            (f"(d) read only: decode + resample (workers {args.workers})", lambda: read_only(df, args.workers))
        )
        # --repeat N runs the rows in turn N times and keeps each one's fastest round: on a shared machine the
        # rows then see the same load, and the store / limit fraction compares like with like
        for _ in range(args.repeat):
            for method, fn in methods:
                log(f"running {method}")
                results[method] = best(results.get(method), timed(fn), len(df), seconds, method)
    rows = list(results.values())
    base, limit, store = rows[0], rows[-1], rows[1]
    for r in rows:
        r["speedup"] = base["wall_seconds"] / r["wall_seconds"]
        r["of_limit"] = limit["wall_seconds"] / r["wall_seconds"]
        r["of_limit_cpu"] = limit["cpu_seconds"] / r["cpu_seconds"]
    print(f"Log-mel (PANN preset: 32 kHz, n_fft 1024, hop 320, 64 mels) to HDF5, {name}\n")
    print(
        table(
            ["method", "clips", "audio s", "wall s", "CPU s", "audio s / s", "speed-up vs (a)", "of limit (d)"],
            [
                [
                    r["method"],
                    r["clips"],
                    f"{r['audio_seconds']:.0f}",
                    r["wall_seconds"],
                    r["cpu_seconds"],
                    f"{r['audio_seconds_per_second']:.0f}",
                    f"{r['speedup']:.2f}x",
                    f"{r['of_limit']:.0%}",
                ]
                for r in rows
            ],
            numeric=[False, True, True, True, True, True, True, True],
        )
    )
    # the goal of the store: its speed as a fraction of reading alone's, by wall time and by CPU seconds (the
    # latter does not depend on what else the machine runs)
    print(
        f"\nstore / limit: {store['of_limit']:.0%} of (d)'s speed by wall time, {store['of_limit_cpu']:.0%} by CPU "
        f"seconds (goal: >= 85 %)"
    )
    if args.json:
        doc = {"dataset": name, "preset": "pann", "results": rows}
        args.json.write_text(json.dumps(doc, indent=2, allow_nan=False) + "\n")


if __name__ == "__main__":
    main()
