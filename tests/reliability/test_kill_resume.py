"""SIGKILL of a real stage subprocess at a random point, one stage per workflow and per writing mechanism.

A stage is run as DVC runs it (``python -m soundflow stage NAME``) in a scratch copy of the project whose
upstream stages are done, and killed (SIGKILL, its whole process group) a seeded random time after a seeded
random number of its work units (shards, clips, epochs, soundscapes) are on disk. Then:

- nothing looks complete that is not: every declared output (and the training's resumable state) is absent
  or loads with the project's own reader; only hidden temporaries may be half-written;
- the rerun (``soundflow stage NAME``, in this process) completes without redoing finished work, by the
  stage's own printed counts (shards reused, clips reused, epochs resumed);
- its outputs are byte for byte an uninterrupted run's (the reference, run once per stage), with no
  temporary left among them (DVC would hash it into the output).

The targets: a feature extraction (``transcoder_features``, workflow 4), a training through ``fit``
(``aed_train``, workflow 2), a text-to-audio generation (``t2a_generate``, workflow 5), a Scaper synthesis
(``soundscapes``, workflow 1) and an HDF5 write (``loc_features``, workflow 3). One seed each in the fast part;
more seeds under ``--soak``.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from soundflow.env import STATE_DIR
from soundflow.pipeline.stages import get_stage
from soundflow.pipeline.workspace import TINY, copy_project
from tests.helpers.paths import ROOT
from tests.helpers.resume import digests, invalid_outputs, kill_when, output_files, temporaries

pytestmark = pytest.mark.slow  # seconds or more: outside the fast suite (`make test-fast`)

# TINY with more, smaller work units, so that a kill can land between them
KILL_PARAMS = {
    **TINY,
    "features.shard_size": 4,
    "localisation.data.shard_size": 2,
    "aed.train.epochs": 4,
    "text_to_audio.generate.batch_size": 4,
}
# what the five targets read, made once per session (in this process: their own runs are not under test)
UPSTREAM = (
    "urban_synth",
    "datasets",
    "transcoder_soundscapes",
    "street_scenes",
    "seg_class_weights",
    "seg_train",
    "seg_predict",
    "sound_library",
    "loc_scenes",
    "aed_features",
)


def _shards(folder: str) -> Callable[[Path], int]:
    return lambda root: sum(1 for p in (root / folder).rglob("shard-*.h5")) if (root / folder).is_dir() else 0


def _wavs(folder: str) -> Callable[[Path], int]:
    return lambda root: sum(1 for p in (root / folder).rglob("*.wav") if not p.name.startswith("."))


def _epochs_saved(state: str) -> Callable[[Path], int]:
    def count(root: Path) -> int:
        from soundflow.checkpoints import load_checkpoint

        path = root / state / "last.pt"
        return load_checkpoint(path)["epoch"] + 1 if path.is_file() else 0

    return count


def _store_reused(log: str) -> int:
    return sum(int(n) for n in re.findall(r"^store .*: (\d+) shard\(s\) reused", log, re.M))


def _clips_reused(log: str) -> int:
    (n,) = re.findall(r"t2a_generate: \d+ clip\(s\) generated, (\d+) reused", log)
    return int(n)


def _epochs_resumed(log: str) -> int:
    m = re.search(r"resuming from \S+ after epoch (\d+)/(\d+)", log)
    resumed = int(m.group(1)) if m else 0
    ran = [int(e) for e in re.findall(r"epoch (\d+)/\d+: train_loss", log)]
    assert ran == list(range(resumed + 1, resumed + 1 + len(ran))), f"an epoch ran again: {ran} after {resumed}"
    return resumed


def _epochs_logged(log: str) -> int:
    return len(re.findall(r"epoch \d+/\d+: train_loss", log))


def _epoch_seconds(history: str) -> Callable[[Path], float]:
    def mean(root: Path) -> float:
        import pandas as pd

        return float(pd.read_csv(root / history)["seconds"].mean())

    return mean


def _clips_recorded(root: Path) -> int:
    from tasks.text_to_audio.clip_record import read_record

    return len(read_record(root / "data/generated/t2a"))


@dataclass(frozen=True)
class Target:
    stage: str
    workflow: str
    done: Callable[[Path], int]  # work units finished and on disk (the kill lands after a random number of them)
    reused: Callable[[str], int] | None  # units the rerun says it kept (None: the stage recomputes everything)
    state: str | None = None  # a resumable state folder beside the outputs, held to the same standard
    # the finished units the stage knows of, which its rerun must keep (default: all of ``done``)
    kept: Callable[[Path], int] | None = None
    # units finished, read from the running stage's log: a cheaper kill trigger than ``done``
    progress: Callable[[str], int] | None = None
    # seconds per unit in an uninterrupted run (default: its wall time over its units)
    unit_seconds: Callable[[Path], float] | None = None


TARGETS = {
    t.stage: t
    for t in (
        Target("transcoder_features", "transcoder", _shards("data/features/transcoder"), _store_reused),
        Target(
            "aed_train",
            "aed",
            _epochs_saved(f"{STATE_DIR}/aed_train"),
            _epochs_resumed,
            f"{STATE_DIR}/aed_train",
            progress=_epochs_logged,
            unit_seconds=_epoch_seconds("reports/aed/train_history.csv"),
        ),
        # clips are recorded every few seconds: what a killed run had not recorded is generated again
        Target("t2a_generate", "text_to_audio", _wavs("data/generated/t2a/audio"), _clips_reused, kept=_clips_recorded),
        Target("soundscapes", "image_to_soundscape", _wavs("data/soundscapes"), None),
        Target("loc_features", "localisation", _shards("data/features/localisation"), _store_reused),
    )
}


@contextlib.contextmanager
def _inside(project: Path) -> Iterator[None]:
    """This process as a command run in ``project``: its folder, one torch thread (as the killed run), no
    inherited lock token or tracking server."""
    import torch

    keep = {k: os.environ.pop(k, None) for k in ("SOUNDFLOW_WORKSPACE_LOCK", "MLFLOW_TRACKING_URI")}
    cwd, threads = Path.cwd(), torch.get_num_threads()
    os.chdir(project)
    torch.set_num_threads(1)
    try:
        yield
    finally:
        os.chdir(cwd)
        torch.set_num_threads(threads)
        os.environ.update({k: v for k, v in keep.items() if v is not None})


def run_stage_here(project: Path, name: str) -> tuple[str, float]:
    """``soundflow stage NAME`` through the CLI in this process; its printed output and seconds."""
    from soundflow.pipeline import cli

    out = io.StringIO()
    t0 = time.perf_counter()
    with _inside(project), contextlib.redirect_stdout(out):
        code = cli.main(["stage", name])
    assert code == 0, out.getvalue()[-3000:]
    return out.getvalue(), time.perf_counter() - t0


@pytest.fixture(scope="session")
def prepared(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny project with the targets' upstream done (and the MLflow store made), the targets not run."""
    from soundflow import env
    from soundflow.pipeline.config import load_params

    project = copy_project(ROOT, tmp_path_factory.mktemp("kill") / "prepared", KILL_PARAMS)
    env.configure(project)
    with _inside(project), contextlib.redirect_stdout(io.StringIO()):
        params = load_params(project)
        for name in UPSTREAM:
            get_stage(name).run(params, project)
    run_stage_here(project, "datasets")  # again, through the CLI: the MLflow store every copy then finds
    return project


@dataclass
class Reference:
    digests: dict[str, str]
    units: int
    unit_seconds: float


@pytest.fixture(scope="session")
def references(prepared: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Reference]:
    """An uninterrupted run of each target (made on first use), in its own copy of the prepared project."""
    made: dict[str, Reference] = {}

    def of(name: str) -> Reference:
        if name not in made:
            project = fresh_copy(prepared, tmp_path_factory.mktemp(f"ref-{name}"))
            _, seconds = run_stage_here(project, name)
            target, stage = TARGETS[name], get_stage(name)
            units = target.done(project)
            per_unit = target.unit_seconds(project) if target.unit_seconds else seconds / max(units, 1)
            made[name] = Reference(digests(project, stage), units, per_unit)
        return made[name]

    return of


def fresh_copy(prepared: Path, where: Path) -> Path:
    return Path(shutil.copytree(prepared, where / "project", symlinks=True))


def stage_env(cli_env: dict[str, str]) -> dict[str, str]:
    return {**cli_env, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def kill_and_resume(target: Target, seed: int, prepared: Path, ref: Reference, tmp: Path, env: dict[str, str],
                    board: object) -> None:  # fmt: skip
    stage = get_stage(target.stage)
    project = fresh_copy(prepared, tmp)
    rng = np.random.default_rng(seed)
    units = int(rng.integers(0, ref.units))  # finished units before the kill: 0 .. all but the last
    delay = float(rng.uniform(0.0, 0.8)) * ref.unit_seconds
    log = tmp / "killed.log"
    header = f"[{target.stage}] "

    def ready() -> bool:
        text = log.read_text(errors="replace")
        done = target.progress(text) if target.progress else target.done(project)
        return header in text and done >= units

    status = kill_when([sys.executable, "-m", "soundflow", "stage", target.stage], project, env, log, ready, delay)
    board.tried("fault")

    checked = [*invalid_outputs(project, stage), *_invalid_state(project, target)]
    kept = (target.kept or target.done)(project)  # finished units the kill left, each loadable (checked above)
    rerun, seconds = run_stage_here(project, target.stage)
    print(f"\n{target.stage} seed {seed}: killed ({status}) with {kept}/{ref.units} unit(s) done; rerun "
          f"{seconds:.1f} s")  # fmt: skip
    left = temporaries(project, stage)
    after = digests(project, stage)
    differ = sorted(k for k in set(after) | set(ref.digests) if after.get(k) != ref.digests.get(k))
    board.harm("files_lost", len(checked) + len(left) + len(differ))

    assert status == -9, f"the stage finished before the kill ({status}):\n{log.read_text()[-2000:]}"
    assert not checked, checked
    assert not left, left
    assert not differ, f"outputs differ from an uninterrupted run: {differ}"
    if target.reused is not None:
        assert target.reused(rerun) == kept, f"{kept} unit(s) were finished before the kill:\n{rerun[-3000:]}"
    assert output_files(project, stage)


def _invalid_state(project: Path, target: Target) -> list[str]:
    if target.state is None or not (project / target.state).is_dir():
        return []
    from tests.helpers.resume import _check_file

    bad = []
    for f in sorted((project / target.state).glob("*.pt")):
        try:
            _check_file(f)
        except Exception as err:
            bad.append(f"{f.relative_to(project)}: {type(err).__name__}: {err}")
    return bad


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_a_killed_stage_leaves_nothing_half_written_and_resumes_to_the_same_bytes(
    name: str, prepared: Path, references: Callable[[str], Reference], tmp_path: Path, cli_env: dict[str, str],
    board: object,
) -> None:  # fmt: skip
    kill_and_resume(TARGETS[name], 0, prepared, references(name), tmp_path, stage_env(cli_env), board)


@pytest.mark.soak
@pytest.mark.parametrize("seed", [1, 2, 3, 4])
@pytest.mark.parametrize("name", sorted(TARGETS))
def test_kills_at_more_points(
    name: str, seed: int, prepared: Path, references: Callable[[str], Reference], tmp_path: Path,
    cli_env: dict[str, str], board: object,
) -> None:  # fmt: skip
    kill_and_resume(TARGETS[name], seed, prepared, references(name), tmp_path, stage_env(cli_env), board)


WRITER = """
import sys, time
from pathlib import Path
from soundflow.io import atomic_path
with atomic_path(Path(sys.argv[1])) as tmp:
    tmp.write_bytes(bytes(4096))  # the first bytes of a shard
    print("writing", flush=True)
    time.sleep(600)
"""


def test_a_writer_killed_inside_an_output_folder_leaves_nothing_the_rerun_keeps(
    prepared: Path, references: Callable[[str], Reference], tmp_path: Path, cli_env: dict[str, str], board: object
) -> None:
    """The kill point the random ones may miss: in the middle of a file's write, inside a store folder."""
    name = "transcoder_features"
    project = fresh_copy(prepared, tmp_path)
    shard = project / "data/features/transcoder/urban_synth/third_octave/shard-00001.h5"
    shard.parent.mkdir(parents=True)
    log = tmp_path / "writer.log"
    argv = [sys.executable, "-c", WRITER, str(shard)]
    status = kill_when(argv, project, stage_env(cli_env), log, lambda: "writing" in log.read_text(), 0.0)
    board.tried("fault")
    left, looks_done = temporaries(project, get_stage(name)), shard.exists()
    rerun, _ = run_stage_here(project, name)
    after = digests(project, get_stage(name))
    differ = sorted(
        k for k in set(after) | set(references(name).digests) if after.get(k) != references(name).digests.get(k)
    )
    board.harm("files_lost", len(differ))
    assert status == -9 and len(left) == 1 and not looks_done, (status, left)
    assert f"removed {left[0]}, left by an interrupted write" in rerun
    assert not differ, differ


def test_every_workflow_is_killed_somewhere() -> None:
    from flows.pipeline import FLOWS

    workflows = {t.workflow for t in TARGETS.values()}
    # the data workflow's long writer is the feature store, killed here through transcoder_ and loc_features
    assert workflows == set(FLOWS) - {"soundflow", "data"}
    assert {get_stage(t.stage).flow for t in TARGETS.values()} == workflows
