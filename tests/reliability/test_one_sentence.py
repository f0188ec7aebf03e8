"""Every error a user can cause ends in one line: ``soundflow: <what and where>``, a non-zero exit, no traceback.

Download failures run the real ``soundflow download`` (``soundflow.pipeline.cli.main``) against a local HTTP server on
127.0.0.1 standing in for the corpora's hosts (an unreachable host is a port just closed); other user errors
are bad arguments, files and parameters. ``--verbose`` (or ``SOUNDFLOW_VERBOSE=1``) adds the traceback.
"""

from __future__ import annotations

import dataclasses
import io
import socket
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

from soundflow.pipeline import cli
from soundflow.pipeline.cli.command import VERBOSE_ENV
from tasks.datasets import registry
from tests.helpers.commands import own_project
from tests.helpers.corpus_server import (
    PASSWORD,
    USER,
    Server,
    esc50_zip,
    md5_hex,
    running_server,
    serve_cityscapes,
    serve_corpus,
    serve_files,
)

UNREACHABLE_SECONDS = 20  # bound on a download from a closed port: a few quick retries, then the sentence


@pytest.fixture
def server() -> Iterator[Server]:
    with running_server() as state:
        yield state


@pytest.fixture
def project(tmp_path: Path, root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project of the test's own, in a sub-folder: an archive member escaping it would land in tmp_path."""
    (tmp_path / "project").mkdir()
    return own_project(tmp_path / "project", root, monkeypatch)


def closed_port() -> int:
    """A port nothing listens on: bound by a real socket, then closed (connections to it are refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def one_sentence(err: str) -> tuple[int, str]:
    """(1 if ``err`` is not a single ``soundflow:`` line without a traceback else 0, that line)."""
    lines = [line for line in err.splitlines() if line.startswith("soundflow:")]
    clear = len(lines) == 1 and "Traceback" not in err
    return (0 if clear else 1), (lines[0] if lines else "")


def unsafe_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("ESC-50-master/meta/esc50.csv", "filename\n")
        zf.writestr("../../escaped.txt", "outside the destination")
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------- downloads
# Each case sets up the server (or the environment) and returns (dataset, what the line must name).


def _html_page(server: Server, mp: pytest.MonkeyPatch) -> tuple[str, list[str]]:
    serve_corpus(server, "esc50", [b"<!DOCTYPE html><html><title>Under maintenance</title></html>"], mp)
    path = next(iter(server.files))
    server.content_types[path] = "text/html; charset=utf-8"
    return "esc50", [server.base + path.split("?")[0], "page titled 'Under maintenance'"]


def _unreachable(server: Server, mp: pytest.MonkeyPatch) -> tuple[str, list[str]]:
    port = closed_port()
    mp.setattr(server, "base", f"http://127.0.0.1:{port}")
    return "esc50", [f"http://127.0.0.1:{port}/", "cannot connect to 127.0.0.1", "connection refused"]


def _unknown_name(server: Server, mp: pytest.MonkeyPatch) -> tuple[str, list[str]]:
    return "esc-50", ["unknown dataset 'esc-50'", "esc50"]


def _refused_login(server: Server, mp: pytest.MonkeyPatch) -> tuple[str, list[str]]:
    serve_cityscapes(server, [b"gt", b"img"], [md5_hex(b"gt"), md5_hex(b"img")])
    mp.setenv("CITYSCAPES_USERNAME", USER)
    mp.setenv("CITYSCAPES_PASSWORD", "wrong-" + PASSWORD)
    return "cityscapes", [f"{server.base}/login/", "login failed", USER]


def _no_credentials(server: Server, mp: pytest.MonkeyPatch) -> tuple[str, list[str]]:
    mp.delenv("CITYSCAPES_USERNAME", raising=False)
    mp.delenv("CITYSCAPES_PASSWORD", raising=False)
    mp.setattr("sys.stdin", io.StringIO())  # not a terminal: no prompt
    return "cityscapes", ["credentials missing", "CITYSCAPES_PASSWORD"]


def _not_found(server: Server, mp: pytest.MonkeyPatch) -> tuple[str, list[str]]:
    return "esc50", ["HTTP 404", server.base + urlsplit(registry.get("esc50").files[0].url).path]


def _wrong_checksum(server: Server, mp: pytest.MonkeyPatch) -> tuple[str, list[str]]:
    serve_corpus(server, "esc50", [esc50_zip()], mp, md5s=["0" * 32])
    return "esc50", ["md5 mismatch", "ESC-50-master.zip"]


def _unsafe_archive(server: Server, mp: pytest.MonkeyPatch) -> tuple[str, list[str]]:
    serve_corpus(server, "esc50", [unsafe_zip()], mp)
    return "esc50", ["escapes the destination", "../../escaped.txt"]


def _truncated_archive(server: Server, mp: pytest.MonkeyPatch) -> tuple[str, list[str]]:
    body = esc50_zip()[:-200]  # published without a checksum: the content check must catch it
    serve_files(server, "esc50", [body])
    info = registry.get("esc50")
    files = tuple(dataclasses.replace(f, md5=None, size=None) for f in info.files)
    mp.setitem(registry._REGISTRY, "esc50", dataclasses.replace(info, files=files))
    return "esc50", ["ESC-50-master.zip", "zip"]


DOWNLOAD_CASES: dict[str, Callable[[Server, pytest.MonkeyPatch], tuple[str, list[str]]]] = {
    "html page": _html_page,
    "unreachable host": _unreachable,
    "unknown dataset": _unknown_name,
    "refused login": _refused_login,
    "no credentials": _no_credentials,
    "404": _not_found,
    "wrong checksum": _wrong_checksum,
    "unsafe archive": _unsafe_archive,
    "truncated archive": _truncated_archive,
}


@pytest.mark.slow
@pytest.mark.parametrize("case", DOWNLOAD_CASES.values(), ids=DOWNLOAD_CASES.keys())
def test_download_failure_is_one_sentence_naming_dataset_url_and_problem(
    case, server: Server, project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], board
) -> None:
    name, named = case(server, monkeypatch)
    t0 = time.monotonic()
    code = cli.main(["download", name, "--base-url", server.base])
    seconds = time.monotonic() - t0
    err = capsys.readouterr().err
    unclear, line = one_sentence(err)
    missing = [s for s in [name, *named] if s not in line]
    board.tried("bad_input")
    board.harm("unclear", unclear or int(bool(missing)))
    assert code != 0 and unclear == 0, err
    assert not missing, f"{missing} not in {line!r}"
    assert PASSWORD not in err and "<redacted>" not in line.split("://", 1)[0]
    assert seconds < UNREACHABLE_SECONDS, f"{seconds:.1f} s"
    assert not (project / "data" / "raw" / "esc50" / "ESC-50-master").exists()  # nothing half-extracted
    assert not (project.parent / "escaped.txt").exists() and not (project / "escaped.txt").exists()


@pytest.mark.slow
def test_verbose_shows_the_traceback(
    server: Server, project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], board
) -> None:
    board.tried("bad_input", 3)
    _unreachable(server, monkeypatch)
    outputs = []
    for argv, env in (
        (["download", "esc50", "--base-url", server.base, "--verbose"], None),
        (["--verbose", "download", "esc50", "--base-url", server.base], None),
        (["download", "esc50", "--base-url", server.base], "1"),
    ):
        if env:
            monkeypatch.setenv(VERBOSE_ENV, env)
        assert cli.main(argv) != 0
        outputs.append(capsys.readouterr().err)
    board.harm("unclear", sum("Traceback" not in e for e in outputs))
    for err in outputs:
        assert "Traceback (most recent call last)" in err and "DownloadError" in err
        assert err.rstrip().splitlines()[-1].startswith("soundflow: dataset esc50: ")  # the sentence stays last


# ------------------------------------------------------------------------------------------ other commands


def _bad_params(project: Path) -> tuple[list[str], list[str]]:
    raw = yaml.safe_load((project / "params.yaml").read_text())
    raw["aed"]["train"]["epochs"] = -3
    (project / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    return ["params"], ["params.yaml", "aed.train.epochs"]


def _params_not_yaml(project: Path) -> tuple[list[str], list[str]]:
    bad = project / "override.yaml"
    bad.write_text("aed.train.epochs: [1\n")
    return ["params", "--apply", str(bad)], [str(bad)]


def _csv_without_paths(project: Path) -> tuple[list[str], list[str]]:
    csv = project / "clips.csv"
    csv.write_text("file,label\na.wav,dog\n")
    return ["features", "logmel_pann", str(csv), "--out", str(project / "store")], [str(csv), "'path' column"]


def _unknown_representation(project: Path) -> tuple[list[str], list[str]]:
    csv = project / "clips.csv"
    csv.write_text(f"path,label\n{project / 'a.wav'},dog\n")
    return ["features", "mfcc", str(csv), "--out", str(project / "store")], ["unknown representation 'mfcc'"]


def _unknown_stage(project: Path) -> tuple[list[str], list[str]]:
    return ["stage", "aed_trian"], ["aed_trian"]


def _missing_source(project: Path) -> tuple[list[str], list[str]]:
    gone = project / "no-such-folder"
    return ["features", "logmel_pann", str(gone), "--out", str(project / "store")], [str(gone)]


def _outside_project(project: Path) -> tuple[list[str], list[str]]:
    for name in ("params.yaml", "dvc.yaml"):
        (project / name).unlink()
    return ["params"], ["not inside a soundflow project"]


CLI_CASES = {
    "invalid parameter": _bad_params,
    "override file not YAML": _params_not_yaml,
    "CSV without paths": _csv_without_paths,
    "unknown representation": _unknown_representation,
    "unknown stage": _unknown_stage,
    "missing source folder": _missing_source,
    "outside a project": _outside_project,
}


@pytest.mark.parametrize("case", CLI_CASES.values(), ids=CLI_CASES.keys())
def test_user_error_is_one_sentence(case, project: Path, capsys: pytest.CaptureFixture[str], board) -> None:
    argv, named = case(project)
    code = cli.main(argv)
    err = capsys.readouterr().err
    unclear, line = one_sentence(err)
    missing = [s for s in named if s not in line]
    board.tried("bad_input")
    board.harm("unclear", unclear or int(bool(missing)))
    assert code != 0 and unclear == 0, err
    assert not missing, f"{missing} not in {line!r}"


@pytest.mark.soak  # MLflow's store takes its time; tests/soundflow/pipeline/test_cli.py checks the stage's line quickly
def test_a_stage_says_it_in_one_line_and_logs_the_traceback(
    server: Server, project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], board
) -> None:
    """``soundflow stage`` (what DVC runs) ends in the sentence; the stage's MLflow log keeps the traceback."""
    import mlflow

    port = closed_port()
    raw = yaml.safe_load((project / "params.yaml").read_text())
    raw["data"]["download"].update(datasets=["esc50"], base_url=f"http://127.0.0.1:{port}")
    (project / "params.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("SOUNDFLOW_PIPELINE_KEY", raising=False)
    board.tried("fault")
    code = cli.main(["stage", "datasets"])
    err = capsys.readouterr().err
    unclear, line = one_sentence(err)
    mlflow.set_tracking_uri(f"sqlite:///{project / 'mlruns.db'}")
    runs = mlflow.search_runs(search_all_experiments=True, output_format="list")
    logs = [Path(mlflow.artifacts.download_artifacts(run_id=r.info.run_id, artifact_path="datasets.log")) for r in runs]
    board.harm("unclear", unclear)
    assert code != 0 and unclear == 0, err
    assert line.startswith("soundflow: stage datasets failed: dataset esc50: ") and "connection refused" in line
    assert len(logs) == 1 and "Traceback (most recent call last)" in logs[0].read_text()
    assert "DownloadError" in logs[0].read_text()
    assert runs[0].info.status == "FAILED"
