"""A pipeline stage as a Prefect task, cached with DVC's notion of "up to date".

The cache key is DVC's run-cache key of the stage (its command, dependency
hashes and parameter values), so a stage whose inputs did not change shows as
*Cached*. DVC's status also has to agree that the stage's outputs are the ones
recorded in ``dvc.lock``; when it does not (outputs deleted, parameters
reverted to an older value), the record under the key is dropped and the
stage runs. The body itself asks DVC again, so a stage made up to date by
``dvc repro`` is not recomputed either.

A stage that failed on a server or the network is retried (:mod:`flows.retries`); one that runs past its
time limit (``Stage.timeout_seconds``, from the stage table) fails as ``TimedOut``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import CachePolicy
from prefect.context import TaskRunContext

from flows import retries
from soundflow.pipeline import dvc_state, runner
from soundflow.pipeline.stages import get_stage

CACHE_DIR = Path(".soundflow") / "prefect" / "stage-cache"


class DvcStageCache(CachePolicy):
    def compute_key(
        self, task_ctx: TaskRunContext, inputs: dict[str, Any], flow_parameters: dict[str, Any], **kwargs: Any
    ) -> str | None:
        name, root = inputs["name"], Path(inputs["root"])
        with dvc_state.open_repo(root) as repo:
            stage_hash = dvc_state.stage_hash(repo, name)
            stale = bool(dvc_state.status(repo, name)) or inputs.get("force", False)
        if stage_hash is None:
            return None
        key = f"{name}-{stage_hash}"
        if stale:
            # the record under this key describes outputs that are no longer in the workspace
            (root / CACHE_DIR / key).unlink(missing_ok=True)
        return key


@task(
    name="stage",
    persist_result=True,
    result_serializer="json",
    log_prints=True,
    # a stage reruns only where DVC says it is stale, so a retry after a failure redoes no finished stage
    retries=retries.RETRIES,
    retry_delay_seconds=retries.RETRY_DELAY_SECONDS,
    retry_condition_fn=retries.retry_if_transient,
)
def stage_task(name: str, root: str, force: bool = False) -> dict[str, Any]:
    logger = get_run_logger()
    out = runner.run_stage_if_stale(name, Path(root), force=force)
    if not out.ran:
        logger.info("%s: up to date with dvc.lock, nothing recomputed", name)
    else:
        logger.info("%s: computed in %.1f s (%s)", name, out.seconds, "; ".join(out.reasons))
    where = Path(root).resolve()
    logger.info("%s: outputs in %s: %s", name, where, ", ".join(out.outputs) or "(none)")
    _publish_artifact(name, where, out.ran, out.outputs)
    return {"stage": out.name, "ran": out.ran, "seconds": out.seconds, "outputs": out.outputs}


def _publish_artifact(name: str, root: Path, ran: bool, outputs: list[str]) -> None:
    """The stage's metrics and MLflow run as a Prefect artifact; a failure to publish never fails the stage."""
    from soundflow.pipeline.config import load_params
    from soundflow.pipeline.ops import stage_artifacts

    try:
        key = stage_artifacts.publish(name, root, load_params(root).tracking.experiment, ran, outputs)
        get_run_logger().info("%s: metrics and MLflow run published as artifact %r", name, key)
    except Exception as err:  # the stage's outputs are made and recorded; only the summary is lost
        get_run_logger().warning("%s: could not publish its artifact: %s: %s", name, type(err).__name__, err)


def for_stage(name: str, root: Path) -> Any:
    """The task for one stage, named after it, its cache records kept in the repository's state folder, its
    time limit the stage table's."""
    policy = DvcStageCache().configure(key_storage=(root / CACHE_DIR).resolve())
    limit = get_stage(name).timeout_seconds
    return stage_task.with_options(name=name, task_run_name=name, cache_policy=policy, timeout_seconds=limit)
