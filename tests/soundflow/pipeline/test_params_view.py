"""A stage reads only what it declares: the view of the parameters its ``run`` gets, in both directions."""

from __future__ import annotations

import pytest

from soundflow.pipeline.config import load_params
from soundflow.pipeline.params_view import ParamsView, UndeclaredParam, stage_view
from soundflow.pipeline.stages import STAGES, get_stage
from tests.helpers.paths import ROOT


@pytest.fixture(scope="module")
def params():
    return load_params(ROOT)


def test_a_declared_section_reads_as_its_real_value(params) -> None:
    view = ParamsView(params, ("aed.train", "aed.data.test_folds"), "s")
    assert view.aed.train is params.aed.train  # the model itself: the task gets what it always got
    assert view.aed.data.test_folds == params.aed.data.test_folds
    assert view.read_keys == {"aed.train", "aed.data.test_folds"}


def test_an_undeclared_read_names_the_stage_and_the_key(params) -> None:
    view = ParamsView(params, ("aed.data.test_folds",), "aed_evaluate")
    with pytest.raises(UndeclaredParam, match=r"stage 'aed_evaluate' reads parameter 'aed\.data\.root'"):
        view.aed.data.root  # noqa: B018
    with pytest.raises(UndeclaredParam, match="'seg'"):
        view.seg  # noqa: B018


def test_a_parent_of_declared_keys_is_a_narrower_view_not_the_section(params) -> None:
    data = ParamsView(params, ("aed.data.test_folds",), "s").aed.data
    assert isinstance(data, ParamsView)
    with pytest.raises(UndeclaredParam):
        data.model_dump()  # the whole section would be read through it


def test_declared_but_unread_keys_are_seen(params) -> None:
    view = ParamsView(params, ("aed.train", "aed.evaluate"), "s")
    view.aed.train.epochs  # noqa: B018
    assert {"aed.train", "aed.evaluate"} - view.read_keys == {"aed.evaluate"}


def test_survey_mode_serves_and_records_undeclared_reads(params) -> None:
    view = stage_view(params, get_stage("aed_evaluate"), survey=True)
    assert view.seg.train is params.seg.train
    assert view.undeclared_keys == {"seg"}


def test_the_view_is_read_only(params) -> None:
    with pytest.raises(AttributeError, match="read-only"):
        ParamsView(params, ("aed",), "s").aed = None


@pytest.mark.parametrize("stage", STAGES, ids=lambda s: s.name)
def test_every_declared_key_exists_in_the_committed_params(params, stage) -> None:
    view = stage_view(params, stage)
    for key in stage.params:
        node = view
        for part in key.split("."):
            node = getattr(node, part)
