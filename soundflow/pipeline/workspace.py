"""Scratch copies of the project: for end-to-end tests and benchmarks that must not touch the real one."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import yaml

from soundflow.pipeline.config import parse_params, read_params_yaml, set_dotted
from soundflow.pipeline.stage import PYTHON


def copy_project(src: Path, dst: Path, overrides: dict[str, Any] | None = None) -> Path:
    """Copy the git-tracked files of ``src`` to ``dst``, make it a git repo, apply dotted param overrides.

    The copy has no outputs, no DVC cache, no MLflow store: a cold start, as in a fresh clone after
    ``make install``, whose virtual environment is ``src``'s (linked).
    """
    src, dst = Path(src).resolve(), Path(dst).resolve()
    files = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=src,
            check=True,
            capture_output=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for rel in filter(None, files):
        if (src / rel).is_file():
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src / rel, dst / rel)
    if (src / PYTHON).is_file() and not (dst / ".venv").exists():
        (dst / ".venv").symlink_to(src / ".venv")  # the interpreter the stage commands name (dvc.yaml)
    if overrides:
        set_params(dst, overrides)
    git = ["git", "-c", "user.email=ci@soundflow.local", "-c", "user.name=soundflow"]
    subprocess.run(["git", "init", "-q"], cwd=dst, check=True)
    subprocess.run([*git, "add", "-A"], cwd=dst, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "scratch copy"], cwd=dst, check=True)
    init_raw_data(dst)
    return dst


def init_raw_data(root: Path) -> None:
    """Give a fresh clone the empty ``data/raw`` that ``data.dvc`` records (what `make data-raw` does)."""
    from soundflow.pipeline import dvc_state

    raw = Path(root) / "data" / "raw"
    if not raw.exists():
        raw.mkdir(parents=True)
        with dvc_state.open_repo(Path(root)) as repo:
            dvc_state.commit_dvcfile(repo, Path(root) / "data.dvc")


def set_params(root: Path, overrides: dict[str, Any]) -> None:
    """Change dotted keys of ``root/params.yaml`` (validated, as ``dvc exp run -S`` would set them)."""
    path = Path(root) / "params.yaml"
    raw = read_params_yaml(path)
    for key, value in overrides.items():
        set_dotted(raw, key, value)
    parse_params(raw, path)
    path.write_text(yaml.safe_dump(raw, sort_keys=False))


# A tiny but complete configuration of the default pipeline: every stage runs for real, in seconds.
TINY = {
    "data.urban_synth.clips_per_class": 4,
    "data.urban_synth.n_folds": 3,
    "data.urban_synth.duration": [1.0, 3.5],
    "aed.data.test_folds": [3],
    "aed.features.sample_rate": 16000,
    "aed.features.n_freq_bins": 64,
    "aed.features.n_frames": 64,
    "aed.features.frame_hop_seconds": 0.047,
    "aed.model.width": 4,
    "aed.model.dense": 32,
    "aed.train.epochs": 2,
    "data.street_scenes.n_train": 6,
    "data.street_scenes.n_val": 3,
    "data.street_scenes.n_test": 2,
    "data.street_scenes.height": 64,
    "data.street_scenes.width": 128,
    "seg.data.image_size": [64, 128],
    "seg.train.epochs": 1,
    "seg.train.batch_size": 3,
    "data.sound_library.clips_per_label": 1,
    "data.sound_library.event_duration": [3.0, 5.0],
    "data.sound_library.background_duration": 12.0,
    "soundscapes.synthesis.duration": 10.0,
    "soundscapes.synthesis.soundscapes_per_image": 2,
    "text_to_audio.generate.multipliers": [1.0],
    "text_to_audio.generate.seconds": 1.0,
    "text_to_audio.features.clip_seconds": 1.0,
    "text_to_audio.experiment.data_types": ["real", "generated", "real_generated"],  # 3 folds: one training fold
    "text_to_audio.experiment.test_folds": [1],
    "text_to_audio.experiment.epochs": 1,
    "text_to_audio.experiment.crnn_channels": 4,
    "transcoder.data.soundscapes": 8,
    "transcoder.data.soundscape_seconds": 3.0,
    "transcoder.data.event_duration": [0.5, 1.5],
    "transcoder.data.library_clips_per_class": 1,
    "transcoder.data.library_event_seconds": 1.5,
    "transcoder.data.singlelabel_clip_seconds": 2.0,
    "transcoder.data.val_fraction": 0.25,
    "transcoder.data.test_fraction": 0.25,
    "transcoder.teacher.width": 2,
    "transcoder.teacher.epochs": 1,
    "transcoder.train.channels": 4,
    "transcoder.train.epochs": 1,
    "transcoder.heads.epochs": 2,
    "transcoder.audio.clips": 1,
    "transcoder.audio.n_iter": 2,
    "localisation.scenes.n_train": 8,
    "localisation.scenes.n_val": 4,
    "localisation.scenes.n_test": 6,
    "localisation.scenes.image_side": 64,
    "localisation.data.frame_side": 32,
    "localisation.data.clip_seconds": 0.5,
    "localisation.stage1.epochs": 1,
    "localisation.stage1.batch_size": 4,
    "localisation.stage2.epochs": 1,
    "localisation.stage2.batch_size": 4,
    "localisation.evaluate.overlays": 4,
}
