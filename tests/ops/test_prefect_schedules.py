"""Schedules in params.yaml, prefect.yaml's deployments and the stage artifact's markdown: no server needed."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path

import pytest
import yaml

from flows.pipeline import FLOWS
from soundflow.pipeline.config import ParamsError, parse_params, read_params_yaml
from soundflow.pipeline.ops import deployments, prefect_cli, stage_artifacts
from soundflow.pipeline.ops.schedule_params import FlowSchedule, SchedulesParams
from soundflow.pipeline.stages import STAGES, WORKFLOWS
from tests.helpers.paths import ROOT

COMMITTED = read_params_yaml(ROOT / "params.yaml")


def with_schedule(flow: str, **entry: object) -> dict:
    raw = copy.deepcopy(COMMITTED)
    raw["schedules"][flow] = {**raw["schedules"][flow], **entry}
    return raw


def test_every_flow_has_a_schedule_entry_and_all_are_off_by_default() -> None:
    assert set(SchedulesParams.model_fields) == set(FLOWS) == {"soundflow", *(u.name for u in WORKFLOWS)}
    params = parse_params(COMMITTED, Path("params.yaml"))
    assert not any(getattr(params.schedules, name).active for name in FLOWS)


def test_no_stage_depends_on_the_schedules() -> None:
    # changing when a flow runs must not make any stage stale
    assert not [s.name for s in STAGES if any(k.split(".")[0] == "schedules" for k in s.params)]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"cron": "0 2 * * *", "interval_seconds": 60}, "cron or interval_seconds, not both"),
        ({"cron": None, "interval_seconds": None, "active": True}, "needs a cron or an interval_seconds"),
        ({"cron": "every night"}, "five cron fields"),
        ({"cron": None, "interval_seconds": 0}, "greater than or equal to 1"),
        ({"parameters": {"root": "/elsewhere"}}, "always runs in that project"),
    ],
)
def test_a_bad_schedule_is_refused_by_key(entry: dict, message: str) -> None:
    with pytest.raises(ParamsError, match=r"schedules\.soundflow") as err:
        parse_params(with_schedule("soundflow", **entry), Path("params.yaml"))
    assert message in str(err.value)


def test_prefect_refuses_a_cron_that_bypassed_validation() -> None:
    # params.yaml's validator refuses it (tests/reliability/test_prerun_checks.py); the deployment checks again
    with pytest.raises(ParamsError, match=r"schedules\.soundflow: .*[Ii]nvalid cron"):
        deployments.prefect_schedule("soundflow", FlowSchedule.model_construct(cron="99 * * * *"))


def test_an_interval_becomes_prefect_s_schedule_with_its_state_and_parameters() -> None:
    s = deployments.prefect_schedule(
        "soundflow", FlowSchedule(interval_seconds=90, active=True, parameters={"stages": ["urban_synth"]})
    )
    assert s.interval == dt.timedelta(seconds=90) and s.active and s.parameters == {"stages": ["urban_synth"]}
    assert s.slug == "soundflow-params-yaml"
    assert deployments.prefect_schedule("soundflow", FlowSchedule()) is None


def test_schedule_parameters_must_be_the_flow_s() -> None:
    bad = parse_params(with_schedule("text_to_audio", parameters={"stages": ["t2a_train"]}), Path("p")).schedules
    with pytest.raises(ParamsError, match=r"schedules\.text_to_audio\.parameters: stages not a parameter"):
        deployments.check_parameters(FLOWS, bad)


def test_prefect_yaml_deploys_every_flow_to_the_process_pool_from_the_project() -> None:
    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    by_flow = {}
    for d in spec["deployments"]:
        path, func = d["entrypoint"].split(":")
        assert path == "flows/pipeline.py" and (ROOT / path).is_file()
        flow = [f for f in FLOWS.values() if f.fn.__name__ == func]
        assert len(flow) == 1, d["entrypoint"]
        by_flow[flow[0].name] = d
        # never serve's name (the flow's): a deploy must not take over, un-pause or keep a schedule made for serve
        assert d["name"] == flow[0].name + deployments.POOL_SUFFIX
        assert not d.get("schedules")
        assert d["work_pool"]["name"] == prefect_cli.DEFAULT_POOL
        assert set(d["parameters"]) <= set(flow[0].parameters.properties)
    assert set(by_flow) == set(FLOWS)
    (step,) = spec["pull"]
    assert step["prefect.deployments.steps.set_working_directory"]["directory"] == "{{ $SOUNDFLOW_ROOT }}"


def test_artifact_keys_are_what_prefect_accepts() -> None:
    for s in STAGES:
        key = stage_artifacts.artifact_key(s.name)
        assert key.replace("-", "").isalnum() and key == key.lower(), key
    assert stage_artifacts.artifact_key("aed_evaluate") == "stage-aed-evaluate"


def test_metrics_table_has_one_row_per_numeric_leaf(tmp_path: Path) -> None:
    (tmp_path / "reports/aed").mkdir(parents=True)
    (tmp_path / "reports/aed/metrics.json").write_text(
        json.dumps({"accuracy": 0.8125, "n_files": 16, "per_class": {"dog": 0.5}, "classes": ["dog"]})
    )
    table = stage_artifacts.metrics_table("aed_evaluate", tmp_path).splitlines()
    assert table[:2] == ["| metric | value |", "|:--|--:|"]
    assert table[2:] == ["| `accuracy` | 0.8125 |", "| `n_files` | 16 |", "| `per_class/dog` | 0.5 |"]
    assert "(missing)" in stage_artifacts.metrics_table("aed_train", tmp_path)
    assert "declares no metrics" in stage_artifacts.metrics_table("urban_synth", tmp_path)


def test_run_link_points_at_the_mlflow_ui_or_names_the_store() -> None:
    link = stage_artifacts.run_link("http://127.0.0.1:5000/", "3", "abc")
    assert link == "[MLflow run `abc`](http://127.0.0.1:5000/#/experiments/3/runs/abc)"
    local = stage_artifacts.run_link("sqlite:////repo/mlruns.db", "1", "abc")
    assert "`abc`" in local and "sqlite:////repo/mlruns.db" in local and "](" not in local


def test_serve_says_when_each_deployment_runs_next() -> None:
    def served(**entry: object) -> object:
        schedule = deployments.prefect_schedule("aed", FlowSchedule(**entry))
        return FLOWS["aed"].to_deployment(name="aed", schedules=[schedule] if schedule else [])

    now = dt.datetime.now(dt.UTC)
    line = prefect_cli.describe(served(cron="30 4 * * *", timezone="Europe/Paris", active=True))
    when = deployments.next_run(served(cron="30 4 * * *", timezone="Europe/Paris").schedules[0].schedule)
    assert when.hour == 4 and when.minute == 30 and now < when <= now + dt.timedelta(days=1)
    assert line == f"cron '30 4 * * *' Europe/Paris, next run {when:%Y-%m-%d %H:%M:%S %Z}"
    every = served(interval_seconds=600, active=True)
    # counted from the deployment's anchor, its creation: the first run an interval after
    assert now < deployments.next_run(every.schedules[0].schedule) <= now + dt.timedelta(seconds=605)
    assert prefect_cli.describe(every).startswith("every 600 s, next run ")
    assert "paused" in prefect_cli.describe(served(cron="0 2 * * *"))
    assert prefect_cli.describe(served()).startswith("no schedule")
