"""The acoustic-event workflow's AED CNN on real UrbanSound8K: each fold once held out, the others training.

    .venv/bin/python benchmarks/real/us8k_aed.py [--folder ../shared/data/urbansound8k] [--epochs 20] [--threads 1]

On ../shared/data/urbansound8k (folds 1 and 2) that is two directions, train 1 -> test 2 and train 2 -> test 1;
on the full UrbanSound8K the same command runs the 10-fold protocol (ten directions, nine folds training each).
About 6.5 minutes on 2 CPU cores for the two folds (379 s measured, --threads 1).

Through the pipeline a user runs: one scratch project (``soundflow.pipeline.workspace.copy_project``) with
configs/real/urbansound8k.yaml, both roots at the folder, the CPU sizes below; ``python -m soundflow repro
aed_features`` once (the chunk store of every fold), then per direction ``aed.data.test_folds: [k]`` in
params.yaml (``soundflow params --apply``, as ``dvc exp run -S`` would set it) and ``python -m soundflow repro
aed_evaluate``, which retrains (test_folds is no parameter of ``aed_features``). Validation: 20 % of each class's
training files, whole Freesound recordings (fsID). Prints a markdown table and writes it with a JSON to
reports/real/us8k_aed.{md,json}.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

sys.path[:0] = [str(Path(__file__).resolve().parents[2]), str(Path(__file__).resolve().parents[1])]

import us8k_common as u  # noqa: E402
from bench_pipeline import copy_env  # noqa: E402
from common import log  # noqa: E402

# The shared copy is 16 kHz: its spectrograms stop at 8 kHz (the paper's 44.1 kHz reads the full UrbanSound8K).
# 128 x 256 chunks (3 s, 11.7 ms hop), width 8 (paper 64): a CPU size, as tests/test_realdata_esc10.py's.
SIZES = {
    "aed.features.sample_rate": 16000,
    "aed.features.n_freq_bins": 128,
    "aed.features.n_frames": 256,
    "aed.features.frame_hop_seconds": 0.0117,
    "aed.model.width": 8,
}


def _json(path: Path) -> dict:
    import json

    return json.loads(path.read_text())


def run_direction(project: Path, env: dict, d: u.Direction, log_file: Path) -> dict:
    """Train on ``d.train``, evaluate on ``d.test`` through the pipeline; the row's numbers."""
    from flows.workflows.aed import AED_HISTORY, AED_METRICS, AED_TRAIN_SUMMARY
    from soundflow.pipeline.config import PARAMS_FILE, apply_overrides

    apply_overrides(project / PARAMS_FILE, {"aed.data.test_folds": [d.test]}, Path("us8k_aed.py"))
    wall, cpu = u.run_soundflow(project, env, ["repro", "aed_evaluate"], log_file)
    metrics, summary = _json(project / AED_METRICS), _json(project / AED_TRAIN_SUMMARY)
    epochs = sum(1 for _ in (project / AED_HISTORY).open()) - 1
    keep = project.parent / f"test{d.test}"
    shutil.copytree((project / AED_METRICS).parent, keep, dirs_exist_ok=True)  # this direction's reports, kept
    return {
        "direction": d.label,
        "test_fold": d.test,
        "train_folds": list(d.train),
        "accuracy": metrics["accuracy"],
        "map": metrics["map"],
        "n_test_files": metrics["n_files"],
        "n_train_files": summary["n_train_files"],
        "n_val_files": summary["n_val_files"],
        "epochs": epochs,
        "best_epoch": summary["best_epoch"],
        "wall_s": wall,
        "cpu_s": cpu,
    }


def main(argv: list[str] | None = None) -> int:
    ap = u.parser(__doc__, "about 6.5 min on 2 cores")
    ap.add_argument("--epochs", type=int, default=20, help="aed.train.epochs (default 20; paper 55)")
    args = ap.parse_args(argv)
    u.set_threads(args.threads)
    from flows.workflows.aed import AED_FEATURES_SUMMARY
    from soundflow.pipeline.workspace import copy_project

    folds = u.folds_of(args.folder)
    work = args.work or Path(tempfile.mkdtemp(prefix="us8k_aed_"))
    overrides = {**u.base_overrides(args.folder), **SIZES, "aed.train.epochs": args.epochs}
    project = copy_project(u.ROOT, work / "project", {**overrides, "aed.data.test_folds": [folds[-1]]})
    env, log_file = copy_env(project), work / "commands.log"
    log(f"scratch project {project}; folds {folds}; log {log_file}")
    feat_wall, feat_cpu = u.run_soundflow(project, env, ["repro", "aed_features"], log_file)
    features = _json(project / AED_FEATURES_SUMMARY)
    rows = []
    for d in u.directions(folds):
        log(f"{d.label} ...")
        rows.append(run_direction(project, env, d, log_file))
        log(f"{d.label}: accuracy {rows[-1]['accuracy']:.3f}, MAP {rows[-1]['map']:.3f}")
    notes = [
        f"UrbanSound8K folds {folds} ({args.folder}), {features['n_files']} clips, {features['n_chunks']} chunks "
        f"({features['n_skipped']} skipped); aed_features {feat_wall:.0f} s wall, {feat_cpu:.0f} s CPU.",
        f"AED CNN width {SIZES['aed.model.width']}, 128 x 256 chunks at 16 kHz, {args.epochs} epochs (the best "
        "validation epoch kept), validation 20 % of each class's training files by fsID. Per direction: "
        "`soundflow repro aed_evaluate` (aed_train + aed_evaluate), its wall and CPU seconds.",
        u.WHY_OURS_DIFFER,
    ]
    headers = ["direction", "classifier", "accuracy", "MAP", "epochs (best)", "train / val / test files"]
    headers += ["wall s", "CPU s", "published (10-fold)"]
    table_rows = [
        [
            r["direction"],
            "AED CNN",
            f"{r['accuracy']:.3f}",
            f"{r['map']:.3f}",
            f"{r['epochs']} ({r['best_epoch']})",
            f"{r['n_train_files']} / {r['n_val_files']} / {r['n_test_files']}",
            f"{r['wall_s']:.0f}",
            f"{r['cpu_s']:.0f}",
            u.PUBLISHED["aed_cnn"],
        ]
        for r in rows
    ]
    data = {"folds": folds, "sizes": SIZES, "epochs": args.epochs, "features": features}
    data |= {"features_wall_s": feat_wall, "features_cpu_s": feat_cpu, "rows": rows}
    u.report("us8k_aed", "AED CNN on real UrbanSound8K folds", notes, headers, table_rows, data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
