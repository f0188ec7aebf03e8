import os
from pathlib import Path

import pytest

from soundflow.pipeline import cli
from soundflow.pipeline.cli import app
from soundflow.pipeline.cli.command import Command


def test_datasets_lists_the_registry(
    root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(root)
    assert cli.main(["datasets"]) == 0
    out = capsys.readouterr().out
    for name in (
        "esc50",
        "urbansound8k",
        "sonyc_ust",
        "tau2020_mobile",
        "cityscapes",
        "ave",
        "soundnet_flickr",
        "audioset_instruments",
    ):
        assert name in out
    assert "(login)" in out.split("cityscapes", 1)[1].splitlines()[0]


def test_dvc_yaml_check_passes_on_the_committed_file(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(root)
    assert cli.main(["dvc-yaml", "--check"]) == 0


def test_bad_params_exit_2_naming_the_key(
    tmp_path: Path, root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (root / "params.yaml").read_text().replace("    epochs: 12", "    epochs: -1", 1)
    (tmp_path / "params.yaml").write_text(text)
    (tmp_path / "dvc.yaml").write_text((root / "dvc.yaml").read_text())
    monkeypatch.chdir(tmp_path)
    assert cli.main(["params"]) == 2
    assert "aed.train.epochs" in capsys.readouterr().err


def test_features_builds_a_store_of_any_folder(
    tmp_path: Path, root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import numpy as np
    import pandas as pd
    import soundfile as sf

    from tasks.features.representations import make_representation
    from tasks.features.store import open_store

    project = tmp_path / "project"
    project.mkdir()
    for name in ("params.yaml", "dvc.yaml"):
        (project / name).write_text((root / name).read_text())
    audio = tmp_path / "esc" / "audio"
    audio.mkdir(parents=True)
    rows = []
    for i in range(3):
        sf.write(audio / f"{i + 1}-{i}-A-{i}.wav", np.full(16000, 0.1 * (i + 1), np.float32), 16000)
        rows.append({"filename": f"{i + 1}-{i}-A-{i}.wav", "fold": i + 1, "target": i, "category": f"c{i}"})
    (audio / "9-9-A-0.wav").write_text("broken")
    rows.append({"filename": "9-9-A-0.wav", "fold": 1, "target": 0, "category": "c0"})
    pd.DataFrame(rows).to_csv(tmp_path / "esc" / "meta.csv", index=False)
    monkeypatch.chdir(project)
    out = tmp_path / "store"
    args = [
        "features",
        "logmel_t2a",
        str(tmp_path / "esc"),
        "--layout",
        "esc50",
        "--out",
        str(out),
        "--max-bad-fraction",
        "0.5",
        "--device",
        "cpu",
    ]
    assert cli.main(args) == 0
    assert "logmel_t2a: 3 input(s), 96 item(s), 1 skipped" in capsys.readouterr().out
    with open_store(out, make_representation("logmel_t2a")) as st:
        assert sorted(st.table.fold) == [1, 2, 3] and st[0][0].shape == (32, 64)
    assert cli.main([*args[:1], "frames", *args[2:]]) == 2  # audio into an image representation: refused
    assert "holds audio" in capsys.readouterr().err


# Every command, with arguments it parses: those that write the workspace hold its lock while they run.
WRITERS = {
    "run": ["run", "aed_train"],
    "repro": ["repro"],
    "stage": ["stage", "aed_train"],
    "features": ["features", "frames", "src", "--out", "store"],
    "download": ["download", "esc50"],
    "dvc-yaml": ["dvc-yaml"],
    "reproduce": ["reproduce", "aed"],
}
READERS = {
    "list": ["list"],
    "params": ["params"],
    "predict": ["predict", "clip.wav"],
    "segment": ["segment", "--test-images", "images"],
    "datasets": ["datasets"],
    "dvc-yaml --check": ["dvc-yaml", "--check"],
    "reproduce --dry-run": ["reproduce", "aed", "--dry-run"],
    "transcode-audio": ["transcode-audio", "clip.wav"],
    "export": ["export", "argo"],
    "compare": ["compare", "--workflow", "image_to_soundscape"],
    "register": ["register"],
    "server": ["server", "prefect"],
    "serve": ["serve", "--flow", "soundflow"],  # each flow run takes the lock itself
    "worker": ["worker"],
    "sync": ["sync"],  # sends the offline journal to MLflow; the journal has its own lock
}


@pytest.fixture
def lock_project(tmp_path: Path, root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder of its own, so the lock state is the test's."""
    from tests.helpers.commands import own_project

    return own_project(tmp_path, root, monkeypatch)


@pytest.fixture
def bodies(lock_project: Path, monkeypatch: pytest.MonkeyPatch) -> list[dict | None]:
    """Every command's function replaced by one that records the lock record in force when it runs."""
    from soundflow.pipeline import workspace_lock

    seen: list[dict | None] = []

    def body(args: object) -> int:
        seen.append(workspace_lock.read_record(lock_project))
        return 0

    for name in app.COMMANDS:
        monkeypatch.setattr(app.soundflow.get_command(None, name), "callback", body)
    return seen


def test_every_command_declares_whether_it_writes() -> None:
    assert {argv[0] for argv in [*WRITERS.values(), *READERS.values()]} == set(app.COMMANDS)
    for argv in [*WRITERS.values(), *READERS.values()]:
        command, args = app.parse(argv)
        assert isinstance(command, Command) and command.name == argv[0]
        assert command.writes_for(args) is (argv in WRITERS.values()), argv


def test_help_lists_every_command_and_each_command_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--help"]) == 0
    listed = capsys.readouterr().out.split("Commands:", 1)[1]
    assert [line.split()[0] for line in listed.splitlines() if line.startswith("  ") and not line[2].isspace()] == [
        *app.COMMANDS
    ]
    for name in app.COMMANDS:
        assert cli.main([name, "--help"]) == 0, name
        out = capsys.readouterr().out
        assert out.startswith(f"Usage: soundflow {name} ") and "--verbose" in out, name


def test_a_usage_error_is_one_line_with_exit_code_2(capsys: pytest.CaptureFixture[str]) -> None:
    for argv, said in [
        (["lst"], "soundflow: error: unknown command 'lst'; did you mean 'list'?"),
        (["run", "--forc"], "soundflow run: error: No such option '--forc'."),
        (["predict"], "soundflow predict: error: Missing argument 'FILES...'."),
        (["export", "airflow"], "soundflow export: error: Invalid value for '{argo|kfp}': 'airflow' is not one of"),
        ([], "soundflow: error: missing command"),
    ]:
        assert cli.main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith(said) and err.count("\n") == 1, err


def test_options_keep_their_aliases_and_defaults() -> None:
    _, args = app.parse(["predict", "a.wav", "--checkpoint", "m.pt"])
    assert args.model == "m.pt" and args.files == ["a.wav"] and args.results is None
    _, args = app.parse(["params"])
    assert args.apply is None  # an absent repeatable option, as argparse gave it
    _, args = app.parse(["server", "s3", "--bucket", "a", "--bucket", "b"])
    assert args.bucket == ["a", "b"] and args.host == "127.0.0.1" and args.timeout == 180.0
    _, args = app.parse(["--verbose", "list"])
    assert args.verbose is False


@pytest.mark.parametrize("argv", WRITERS.values(), ids=WRITERS.keys())
def test_writing_commands_hold_the_lock_while_they_run(bodies: list[dict | None], argv: list[str]) -> None:
    assert cli.main(argv) == 0
    (record,) = bodies
    assert record is not None and record["pid"] == os.getpid() and record["command"] == "soundflow " + " ".join(argv)


@pytest.mark.parametrize("argv", READERS.values(), ids=READERS.keys())
def test_reading_commands_do_not_lock_and_run_beside_a_holder(
    lock_project: Path, bodies: list[dict | None], argv: list[str]
) -> None:
    from soundflow.pipeline import workspace_lock

    assert cli.main(argv) == 0 and bodies == [None]
    lease = workspace_lock.acquire(lock_project, "soundflow run")  # another writer holds it now
    try:
        assert cli.main(argv) == 0 and len(bodies) == 2
    finally:
        workspace_lock.release(lease)


@pytest.mark.parametrize("argv", WRITERS.values(), ids=WRITERS.keys())
def test_writing_commands_are_refused_before_any_work_beside_a_holder(
    lock_project: Path, bodies: list[dict | None], argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    from soundflow.pipeline import workspace_lock

    lease = workspace_lock.acquire(lock_project, "soundflow run aed_train")
    try:
        assert cli.main(argv) == workspace_lock.EXIT_BUSY
    finally:
        workspace_lock.release(lease)
    assert bodies == []  # the command's body never started
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and f"in use by pid {os.getpid()} (soundflow run aed_train, since " in err


def test_a_diverged_stage_fails_with_one_line(
    tmp_path: Path, root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from soundflow.pipeline import runner
    from soundflow.training_state import TrainingDiverged

    def diverge(name: str, root: Path, **_: object) -> float:
        raise TrainingDiverged("aed_train (AED CNN): training diverged at epoch 3 (step 1): training loss is nan")

    for name in ("params.yaml", "dvc.yaml"):
        (tmp_path / name).write_text((root / name).read_text())
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(runner, "execute", diverge)
    assert cli.main(["stage", "aed_train"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "stage aed_train failed" in err and "diverged at epoch 3" in err


def test_stage_refuses_a_dvc_yaml_older_than_its_code(
    tmp_path: Path, root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from soundflow.pipeline import runner

    ran: list[str] = []
    for name in ("params.yaml", "dvc.yaml"):
        (tmp_path / name).write_text((root / name).read_text())
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(runner, "execute", lambda name, root, **_: ran.append(name))
    assert cli.main(["stage", "seg_evaluate", "--code", "0" * 12]) == 2  # the run function changed since
    assert "dvc.yaml is out of date" in capsys.readouterr().err and not ran
    from soundflow.pipeline.stages import get_stage

    assert cli.main(["stage", "seg_evaluate", "--code", get_stage("seg_evaluate").run_digest]) == 0
    assert ran == ["seg_evaluate"]
