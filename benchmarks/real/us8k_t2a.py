"""The text-to-audio workflow's classifiers on real UrbanSound8K, real and real + generated training sets.

    .venv/bin/python benchmarks/real/us8k_t2a.py --classifier salamon_cnn [--folder ../shared/data/urbansound8k]
    .venv/bin/python benchmarks/real/us8k_t2a.py --classifier crnn

Each command trains one classifier (Salamon's CNN, or the CRNN) in every direction: each fold once the test fold,
every other fold training (``text_to_audio.experiment.validation: by_source``: 20 % of each class's real training
clips validate, whole Freesound recordings), on the real clips alone and on the real clips plus as many generated
ones (multiplier 1). On ../shared/data/urbansound8k (folds 1 and 2) that is train 1 -> test 2 and train 2 -> test
1; on the full UrbanSound8K the same command runs all ten folds. About 9 minutes each on 2 CPU cores (498 s and
533 s measured, --threads 1).

The generator is ``procedural``: a STAND-IN, not a text-to-audio model. It renders the class's procedural signal
model and ignores the prompt's words, so the ``real_generated`` rows say nothing about AudioLDM2 or AudioGen.

Through the pipeline a user runs: a scratch project (``soundflow.pipeline.workspace.copy_project``) with
configs/real/urbansound8k.yaml, the roots at the folder and the settings below, then ``python -m soundflow
repro`` of ``t2a_generate``, ``t2a_features`` and ``t2a_evaluate`` (with ``t2a_train``), each timed. Prints a
markdown table and writes it with a JSON to reports/real/us8k_t2a_<classifier>.{md,json}.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[2]), str(Path(__file__).resolve().parents[1])]

import us8k_common as u  # noqa: E402
from bench_pipeline import copy_env  # noqa: E402
from common import log  # noqa: E402

NAMES = {"salamon_cnn": "Salamon CNN", "crnn": "CRNN"}
STAGES = ("t2a_generate", "t2a_features", "t2a_evaluate")


def settings(folds: list[int], classifier: str, epochs: int, patience: int) -> dict[str, object]:
    return {
        "text_to_audio.generate.generator": "procedural",
        "text_to_audio.generate.multipliers": [1.0],
        "text_to_audio.experiment.classifiers": [classifier],
        "text_to_audio.experiment.data_types": ["real", "real_generated"],
        "text_to_audio.experiment.test_folds": folds,
        "text_to_audio.experiment.validation": "by_source",
        "text_to_audio.experiment.val_fraction": 0.2,
        "text_to_audio.experiment.epochs": epochs,  # paper: 100
        "text_to_audio.experiment.patience": patience,  # paper: 15
        "text_to_audio.experiment.batch_size": 32,  # paper: 128 (a few hundred training clips here)
        "text_to_audio.experiment.crnn_channels": 16,  # paper: 64
    }


def rows_of(runs_csv: Path, train_csv: Path) -> list[dict]:
    import pandas as pd

    runs, trained = pd.read_csv(runs_csv), pd.read_csv(train_csv).set_index("key")
    out = []
    for r in runs.to_dict("records"):
        t = trained.loc[r["name"]]
        out.append(
            {
                "key": r["name"],
                "classifier": str(t["classifier"]),
                "data_type": str(t["data_type"]),
                "test_fold": int(t["test_fold"]),
                "train_folds": str(t["train_folds"]),
                "accuracy": float(r["metric.test_accuracy"]),
                "epochs": int(t["epochs_run"]),
                "best_epoch": int(t["best_epoch"]),
                "n_train_real": int(t["n_train_real"]),
                "n_train_generated": int(t["n_train_generated"]),
                "n_val": int(t["n_val"]),
                "train_s": float(t["train_seconds"]),
            }
        )
    return out


def table_rows(rows: list[dict]) -> list[list[str]]:
    return [
        [
            f"train {r['train_folds'].replace(' ', '+')} -> test {r['test_fold']}",
            NAMES[r["classifier"]],
            r["data_type"],
            f"{r['accuracy']:.3f}",
            f"{r['epochs']} ({r['best_epoch']})",
            f"{r['n_train_real']} + {r['n_train_generated']} / {r['n_val']}",
            f"{r['train_s']:.0f}",
            u.PUBLISHED[r["classifier"]] if r["data_type"] == "real" else "68.4 % at 100 % AudioGen (Ronchini)",
        ]
        for r in sorted(rows, key=lambda r: (r["test_fold"], r["data_type"]))
    ]


def main(argv: list[str] | None = None) -> int:
    ap = u.parser(__doc__, "about 9 min on 2 cores")
    ap.add_argument("--classifier", choices=sorted(NAMES), required=True)
    ap.add_argument("--epochs", type=int, default=15, help="at most (default 15; paper 100)")
    ap.add_argument("--patience", type=int, default=5, help="early stopping (default 5; paper 15)")
    args = ap.parse_args(argv)
    u.set_threads(args.threads)
    from flows.workflows.text_to_audio import T2A_RUNS, T2A_TRAIN_RUNS
    from soundflow.pipeline.workspace import copy_project

    folds = u.folds_of(args.folder)
    work = args.work or Path(tempfile.mkdtemp(prefix=f"us8k_t2a_{args.classifier}_"))
    overrides = {**u.base_overrides(args.folder), **settings(folds, args.classifier, args.epochs, args.patience)}
    project = copy_project(u.ROOT, work / "project", overrides)
    env, log_file = copy_env(project), work / "commands.log"
    log(f"scratch project {project}; folds {folds}; log {log_file}")
    timing = {}
    for stage in STAGES:
        log(f"soundflow repro {stage} ...")
        timing[stage] = u.run_soundflow(project, env, ["repro", stage], log_file)
        log(f"{stage}: {timing[stage][0]:.0f} s wall, {timing[stage][1]:.0f} s CPU")
    rows = rows_of(project / T2A_RUNS, project / T2A_TRAIN_RUNS)
    stage_line = "; ".join(f"{s} {w:.0f} s wall / {c:.0f} s CPU" for s, (w, c) in timing.items())
    notes = [
        f"UrbanSound8K folds {folds} ({args.folder}); every clip, 4 s log-mel 126 x 64 (16 kHz). "
        f"{NAMES[args.classifier]}, Adam 1e-3, weight decay 1e-3, batch 32, at most {args.epochs} epochs, "
        f"early stopping after {args.patience} without a lower validation loss (its lowest epoch kept).",
        "Generator: `procedural`, a stand-in for demos and tests, NOT a text-to-audio model: it renders the class's "
        "procedural signal model and ignores the prompt, so the real_generated rows say nothing about AudioLDM2 or "
        "AudioGen (the paper's 68.4 % is AudioGen at 100 %).",
        f"Stages (`soundflow repro`): {stage_line}. The train s column is each configuration's own training time.",
        u.WHY_OURS_DIFFER,
    ]
    headers = ["direction", "classifier", "training set", "accuracy", "epochs (best)", "train real + gen / val"]
    headers += ["train s", "published (10-fold)"]
    data = {"folds": folds, "classifier": args.classifier, "epochs": args.epochs, "patience": args.patience}
    data |= {"stages": {s: {"wall_s": w, "cpu_s": c} for s, (w, c) in timing.items()}, "rows": rows}
    title = f"{NAMES[args.classifier]} (text-to-audio workflow) on real UrbanSound8K folds"
    u.report(f"us8k_t2a_{args.classifier}", title, notes, headers, table_rows(rows), data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
