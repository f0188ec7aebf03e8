"""Checks made before any stage runs: a parameter that does not fit its data is refused by `soundflow params`,
`soundflow repro` and `soundflow run` before DVC deletes anything; the stage commands run the project's python
whatever PATH holds; a stage output DVC deleted before a failed rerun comes back with `dvc checkout`; `--force`
recomputes the named stages only.

One scratch project (TINY sizes, urban sounds in folds 1-3) serves every case; each case edits its params.yaml and
puts it back.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from soundflow.errors import UserError
from soundflow.pipeline import workspace_lock
from soundflow.pipeline.cli import main
from soundflow.pipeline.stage import PYTHON
from soundflow.pipeline.workspace import TINY, copy_project, set_params
from tests.helpers.commands import ran_by_prefect, sh
from tests.helpers.paths import ROOT

BARE_PATH = "/usr/bin:/bin"  # no virtual environment on it
ONE_PROMPT = {"templates": ["a sound of {description}"], "classes": {"dog_bark": {"description": "a dog"}}}


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = copy_project(ROOT, tmp_path_factory.mktemp("prerun") / "p", TINY)
    assert (root / PYTHON).is_file()  # copy_project links the interpreter the stage commands name
    esc = root / "data" / "esc_two_folds"  # a dataset the user brings, ESC-50 layout, folds 1 and 2
    (esc / "audio").mkdir(parents=True)
    (esc / "meta").mkdir()
    (esc / "meta" / "esc50.csv").write_text("filename,fold,target,category\na.wav,1,0,dog\nb.wav,2,1,rain\n")
    (root / "configs" / "one_prompt.yaml").write_text(yaml.safe_dump(ONE_PROMPT))
    return root


@pytest.fixture
def params(project: Path):
    """Set dotted keys of the project's params.yaml for one test; the committed file comes back after it."""
    saved = (project / "params.yaml").read_text()
    yield lambda **kv: set_params(project, {k.replace("__", "."): v for k, v in kv.items()})
    (project / "params.yaml").write_text(saved)


def _env(path: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != workspace_lock.TOKEN_ENV}
    for k in ("PREFECT_HOME", "SOUNDFLOW_PIPELINE_KEY", "MLFLOW_TRACKING_URI"):
        env.pop(k, None)
    env["PATH"] = path or f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    return env


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# each: the values set, the key the one-line refusal names, words of its problem
CASES = [
    ({"aed.data.test_folds": [7]}, "aed.data.test_folds", "fold(s) 7 not among the folds of data/generated/urban_"),
    ({"aed.data.test_folds": [0, 3]}, "aed.data.test_folds", "fold(s) 0 not among the folds"),
    ({"aed.data.test_folds": [1, 2, 3]}, "aed.data.test_folds", "no fold is left to train on"),
    # 2 clips per class: the generator fills folds 1 and 2 only, whatever n_folds says
    (
        {"data.urban_synth.clips_per_class": 2, "text_to_audio.experiment.validation": "by_source"},
        "aed.data.test_folds",
        "fold(s) 3 not among the folds",
    ),
    (
        {"aed.data.root": "data/esc_two_folds", "aed.data.format": "esc50", "aed.data.test_folds": [4]},
        "aed.data.test_folds",
        "fold(s) 4 not among the folds of data/esc_two_folds (1, 2)",
    ),
    ({"text_to_audio.experiment.test_folds": [9]}, "text_to_audio.experiment.test_folds", "fold(s) 9 not among"),
    (
        {"data.urban_synth.n_folds": 2, "aed.data.test_folds": [2]},
        "text_to_audio.experiment.validation",
        "'next_fold' needs at least 3 folds",
    ),
    (
        {"text_to_audio.experiment.data_types": ["real", "replaced"], "text_to_audio.experiment.replace_folds": 1},
        "text_to_audio.experiment.replace_folds",
        "would replace all 1 training fold(s)",
    ),
    ({"text_to_audio.prompts": "configs/one_prompt.yaml"}, "text_to_audio.prompts", "no prompt for the class(es)"),
    ({"schedules.soundflow.cron": "99 99 * * *"}, "schedules.soundflow.cron", "minute '99' is not in 0-59"),
    ({"schedules.soundflow.cron": "0 2 31 13 *"}, "schedules.soundflow.cron", "month '13' is not in 1-12"),
    ({"schedules.soundflow.cron": "*/0 * * * *"}, "schedules.soundflow.cron", "step '0'"),
]


def _set_raw(project: Path, values: dict) -> None:
    """Write values into params.yaml without validating them (set_params would refuse a bad cron itself)."""
    path = project / "params.yaml"
    raw = yaml.safe_load(path.read_text())
    for key, value in values.items():
        node = raw
        *parents, last = key.split(".")
        for part in parents:
            node = node[part]
        node[last] = value
    path.write_text(yaml.safe_dump(raw, sort_keys=False))


@pytest.mark.parametrize(("values", "key", "problem"), CASES, ids=[f"{c[1]}-{i}" for i, c in enumerate(CASES)])
def test_a_param_that_does_not_fit_is_refused_in_one_line_before_dvc_starts(
    project: Path, params, board, values: dict, key: str, problem: str, monkeypatch, capsys
) -> None:
    board.tried("bad_input")
    # what an earlier good run left: a refused command must not touch it
    kept = {rel: project / rel for rel in ("outputs/aed/model.pt", "reports/aed/metrics.json")}
    for path in kept.values():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(64))
    before = {rel: _digest(p) for rel, p in kept.items()}
    params()  # the fixture restores the committed file afterwards
    _set_raw(project, values)
    monkeypatch.chdir(project)  # in-process: each command refuses before it would start DVC or Prefect
    results = {}
    for cmd in ("params", "repro aed_evaluate", "run aed_evaluate"):
        code = main(cmd.split())
        results[cmd] = (code, capsys.readouterr().err)
    unclear = 0
    for code, err in results.values():
        lines = err.strip().splitlines()
        one_line = code == 2 and len(lines) == 1 and lines[0].startswith("soundflow: ")
        unclear += not (one_line and f"{key}: " in lines[0])
    lost = sum(not p.is_file() or _digest(p) != before[rel] for rel, p in kept.items())
    board.harm("unclear", unclear)
    board.harm("files_lost", lost)
    assert all(problem in err for _, err in results.values()), results
    assert unclear == 0, results
    assert lost == 0
    assert not (project / "dvc.lock").exists() or "aed_evaluate" not in (project / "dvc.lock").read_text()


def test_a_fitting_set_passes_and_says_what_waits_for_data(project: Path, params, board, monkeypatch, capsys) -> None:
    board.tried("bad_input")
    params(**{"aed.data.root": "data/datasets/esc50", "aed.data.format": "esc50"})  # made by the datasets stage
    monkeypatch.chdir(project)
    code = main(["params"])
    out, err = capsys.readouterr()
    board.harm("unclear", int(code != 0))
    assert code == 0, err
    assert "aed.data.test_folds will be checked against data/datasets/esc50 once the datasets stage has made it" in out
    assert out.strip().endswith("params.yaml: valid")


def test_every_stage_command_runs_the_project_python_and_no_output_is_uncached(root: Path) -> None:
    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    for name, entry in stages.items():
        argv = shlex.split(entry["cmd"])
        assert argv[:3] == [PYTHON, "-m", "soundflow"], name
        for out in (*entry.get("outs", ()), *entry.get("metrics", ()), *entry.get("plots", ())):
            assert not (isinstance(out, dict) and next(iter(out.values())).get("cache") is False), (name, out)
    # the interpreter they name runs the project with no virtual environment on PATH
    probe = [str(root / PYTHON), "-c", "import soundflow.pipeline.cli, dvc"]
    subprocess.run(probe, cwd=root, env={**_env(BARE_PATH), "PATH": BARE_PATH}, check=True, timeout=120)


def test_force_is_passed_to_the_named_stages_only(tmp_path: Path, monkeypatch) -> None:
    import flows.pipeline as fp

    forced: dict[str, bool] = {}

    class Done:  # the state a Prefect task run returns
        name = "Completed"

        def result(self) -> dict:
            return {"ran": True}

    def task_for(name: str, root: Path):
        def call(name: str, root: str, force: bool, return_state: bool) -> Done:
            forced[name] = force
            return Done()

        return call

    monkeypatch.setattr(fp, "for_stage", task_for)
    monkeypatch.setattr(fp.flow_run, "get_id", lambda: "test")
    monkeypatch.setattr(fp.flow_run, "get_flow_name", lambda: "soundflow")
    fp._run(tmp_path, ["street_scenes", "seg_class_weights"], True, ["seg_class_weights"])
    assert forced == {"street_scenes": False, "seg_class_weights": True}
    fp._run(tmp_path, ["street_scenes", "seg_class_weights"], True)  # none named: every stage of the run
    assert forced == {"street_scenes": True, "seg_class_weights": True}


@pytest.fixture(scope="module")
def ran(project: Path) -> Path:  # tens of seconds: the tests that use it are soak tests
    """`dvc repro seg_class_weights` (and street_scenes before it) with no virtual environment on PATH."""
    proc = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "dvc"), "repro", "seg_class_weights"],
        cwd=project,
        env=_env(BARE_PATH),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return project


@pytest.mark.soak
def test_stage_commands_run_the_project_python_without_the_venv_on_path(ran: Path, board) -> None:
    board.tried("fault")
    assert shutil.which("python", path=BARE_PATH) in (None, "/usr/bin/python")  # not the project's
    weights = ran / "reports" / "seg" / "class_weights.json"
    board.harm("files_lost", int(not weights.is_file()))
    assert weights.is_file()
    assert ".venv/bin/python -m soundflow stage seg_class_weights" in (ran / "dvc.lock").read_text()


@pytest.mark.soak
def test_repro_refuses_before_dvc_when_the_stage_interpreter_is_missing(ran: Path, board, monkeypatch, capsys) -> None:
    board.tried("fault")
    weights = ran / "reports" / "seg" / "class_weights.json"
    digest = _digest(weights)
    monkeypatch.chdir(ran)
    (ran / ".venv").rename(ran / ".venv-away")
    try:
        code, msg = main(["repro", "seg_class_weights"]), capsys.readouterr().err
    except UserError as err:  # until the command line's boundary prints every UserError itself
        code, msg = err.exit_code, str(err)
    finally:
        (ran / ".venv-away").rename(ran / ".venv")
    board.harm("files_lost", int(not weights.is_file() or _digest(weights) != digest))
    board.harm("unclear", int(len(msg.strip().splitlines()) != 1))
    assert code != 0 and ".venv/bin/python does not exist" in msg, msg
    assert weights.is_file() and _digest(weights) == digest


@pytest.mark.soak
def test_outputs_dvc_deleted_before_a_failed_rerun_come_back_with_dvc_checkout(ran: Path, board) -> None:
    board.tried("fault")
    weights = ran / "reports" / "seg" / "class_weights.json"  # a metrics file: cached like every output
    digest = _digest(weights)
    dvc = [str(ROOT / ".venv" / "bin" / "dvc")]
    # the stage fails after DVC removed its outputs: here, refused by the workspace lock another writer holds
    with workspace_lock.hold(ran, "another writer"):
        env = _env(BARE_PATH)
        failed = subprocess.run(
            [*dvc, "repro", "--force", "--single-item", "seg_class_weights"], cwd=ran, env=env, capture_output=True
        )
    assert failed.returncode != 0 and not weights.exists()  # what DVC deleted
    subprocess.run([*dvc, "checkout", "seg_class_weights"], cwd=ran, env=_env(BARE_PATH), check=True)
    board.harm("files_lost", int(not weights.is_file() or _digest(weights) != digest))
    assert weights.is_file() and _digest(weights) == digest


@pytest.mark.soak
def test_force_recomputes_the_named_stage_not_its_up_to_date_upstream(ran: Path, board) -> None:
    board.tried("fault")
    log = sh(["soundflow", "run", "seg_class_weights", "--force"], ran, _env())
    assert ran_by_prefect(log) == ["seg_class_weights"]  # street_scenes is up to date: not recomputed
