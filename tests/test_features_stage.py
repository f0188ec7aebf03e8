"""The ``features`` stage under DVC: stores per set, resume after a kill, sets taken off the list, Dask."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import h5py
import pytest

from soundflow.pipeline.workspace import TINY, copy_project, set_params
from tests.helpers.commands import cli_environment
from tests.helpers.paths import ROOT

pytestmark = pytest.mark.slow

STORES = "data/features/store"


def dvc(project: Path, env: dict[str, str], *args: str, ok: bool = True) -> str:
    proc = subprocess.run(["dvc", *args], cwd=project, env=env, capture_output=True, text=True, timeout=900)
    out = proc.stdout + proc.stderr
    if ok:
        assert proc.returncode == 0, out[-4000:]
    return out


def mtimes(folder: Path) -> dict[str, int]:
    return {p.relative_to(folder).as_posix(): p.stat().st_mtime_ns for p in folder.rglob("shard-*.h5")}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The stage (and its upstream stages) run once from a cold start, and ``dvc repro``'s log."""
    project = copy_project(ROOT, tmp_path_factory.mktemp("features") / "project", {**TINY, "features.shard_size": 16})
    return project, dvc(project, cli_environment(), "repro", "features")


@pytest.fixture()
def project(built: tuple[Path, str], tmp_path: Path) -> Path:
    """A copy of the built project (git repo, DVC cache and lock, outputs) for a test to change."""
    return Path(shutil.copytree(built[0], tmp_path / "project", symlinks=True))


def test_stores_resume_and_follow_the_list_of_sets(
    built: tuple[Path, str], project: Path, cli_env: dict[str, str]
) -> None:
    assert "Running stage 'features'" in built[1]
    summary = json.loads((project / "reports/features/summary.json").read_text())
    assert set(summary) == {"urban_synth/logmel_pann", "urban_synth/third_octave", "street_scenes/frames"}
    assert summary["urban_synth/logmel_pann"]["n_clips"] == 40 and summary["urban_synth/logmel_pann"]["n_shards"] == 3
    assert summary["street_scenes/frames"]["n_items"] == 11
    with h5py.File(project / STORES / "urban_synth/logmel_pann/shard-00000.h5") as h5:
        assert h5["path"][0].decode().startswith("data/generated/urban_synth/audio/")  # portable, relative paths
    assert (project / "reports/features/examples.png").stat().st_size > 10_000
    assert "didn't change" in dvc(project, cli_env, "repro", "features")

    # a killed run: one shard and the manifest gone; the rerun rewrites only that shard
    before = mtimes(project / STORES)
    (project / STORES / "urban_synth/logmel_pann/shard-00001.h5").unlink()
    (project / STORES / "urban_synth/logmel_pann/manifest.json").unlink()
    dvc(project, cli_env, "repro", "features")
    after = mtimes(project / STORES)
    changed = sorted(k for k in before if before[k] != after.get(k))
    assert changed == ["urban_synth/logmel_pann/shard-00001.h5"]

    # a set taken off the list leaves no store behind; a new one is added without recomputing the others
    set_params(
        project,
        {
            "features.sets": [
                {"dataset": "urban_synth", "representation": "logmel_pann"},
                {"dataset": "urban_synth", "representation": "logmel_t2a"},
            ]
        },
    )
    dvc(project, cli_env, "repro", "features")
    assert sorted(p.relative_to(project / STORES).as_posix() for p in (project / STORES).glob("*/*")) == [
        "urban_synth/logmel_pann",
        "urban_synth/logmel_t2a",
    ]
    assert {k: v for k, v in mtimes(project / STORES).items() if "logmel_pann" in k} == {
        k: v for k, v in after.items() if "logmel_pann" in k
    }
    assert (
        json.loads((project / STORES / "urban_synth/logmel_t2a/manifest.json").read_text())["params"]["hop_length"]
        == 512
    )
    assert dvc(project, cli_env, "status", "features").strip().endswith("up to date.")


def test_dask_runner_gives_the_same_stores(project: Path, cli_env: dict[str, str]) -> None:
    local = project / STORES / "urban_synth/third_octave"  # written by the local runner (the default)
    reference = {}
    for path in sorted(local.glob("shard-*.h5")):
        with h5py.File(path) as h5:
            reference[path.name] = h5["features"][:]
    shutil.rmtree(local)  # finished shards would be kept: make the Dask workers compute them all
    sets = [{"dataset": "urban_synth", "representation": "third_octave"}]
    set_params(project, {"features.sets": sets, "features.runner": "dask"})
    log = dvc(project, {**cli_env, "DASK_SCHEDULER_ADDRESS": ""}, "repro", "features")
    assert re.search(r"third_octave: 3 shard\(s\), 40 input\(s\) on \d+ Dask worker\(s\)", log), log[-3000:]
    assert sorted(p.name for p in local.glob("shard-*.h5")) == sorted(reference)
    for name, ref in reference.items():
        with h5py.File(local / name) as h5:
            assert (h5["features"][:] == ref).all()
