"""Names typed at the CLI: a typo is refused in one line with the likeliest name, before anything starts."""

from __future__ import annotations

import pytest

from soundflow import __version__
from soundflow.pipeline import cli
from soundflow.pipeline.cli.pipeline import dvc_exit_code


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["run", "seg_trian"], "unknown stage 'seg_trian'; did you mean 'seg_train'?"),
        (["repro", "aed_tran"], "unknown stage 'aed_tran'; did you mean 'aed_train'?"),
        (["run", "--flow", "transcodr"], "unknown workflow 'transcodr'; did you mean 'transcoder'?"),
    ],
)
def test_a_typo_is_one_line_with_the_likeliest_name(argv, said, capsys) -> None:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert said in err and len(err.splitlines()) == 1


def test_former_flow_names_still_resolve() -> None:
    from soundflow.pipeline.stages import flow_name

    assert flow_name("spectral_transcoder") == "transcoder" and flow_name("sound_localisation") == "localisation"
    assert flow_name("acoustic_event_classification") == "aed" and flow_name("soundflow") == "soundflow"


def test_version(capsys) -> None:
    assert cli.main(["--version"]) == 0 and capsys.readouterr().out.strip() == f"soundflow {__version__}"


@pytest.mark.parametrize(("dvc", "shell"), [(0, 0), (255, 1), (1, 1), (-9, 137)])
def test_repro_exits_with_dvcs_meaning(dvc: int, shell: int) -> None:
    assert dvc_exit_code(dvc) == shell
