"""Prefect flows over the stage graph: the whole DAG, or one workflow, or any stage with its upstream."""

from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path
from typing import Any

from prefect import flow
from prefect.runtime import flow_run

from flows.stage_task import for_stage
from soundflow.pipeline import dag, dvc_state, workspace_lock
from soundflow.pipeline.config import read_params_yaml
from soundflow.pipeline.stages import STAGES
from soundflow.pipeline.tracking import PIPELINE_KEY_ENV


def _run(root: Path, names: list[str], force: bool, targets: Collection[str] | None = None) -> dict[str, Any]:
    """Run ``names`` (in order) where stale; ``force`` recomputes the ``targets`` (all ``names`` if None) anyway,
    never their upstream stages, which run only if stale."""
    os.environ[PIPELINE_KEY_ENV] = f"prefect-{flow_run.get_id()}"
    results: dict[str, Any] = {}
    # a flow started without the CLI (a deployment, a notebook) writes too: it takes the workspace lock
    # itself; under `soundflow run`, which already holds it, this re-enters
    lock = workspace_lock.hold(root, f"prefect flow {flow_run.get_flow_name()} {' '.join(names)}")
    with lock, dvc_state.snapshot(root, names):  # one DVC status call for the DAG until a stage runs
        for name in names:  # topological order; stages are CPU/GPU-bound, so one at a time
            forced = force and (targets is None or name in targets)
            state = for_stage(name, root)(name, str(root), force=forced, return_state=True)
            result = dict(state.result())
            # a Cached state replays the result of the run that computed it: it recomputed nothing now
            result["ran"] = result["ran"] and state.name != "Cached"
            result["state"] = state.name
            results[name] = result
    return results


@flow(name="soundflow", log_prints=True)
def pipeline(root: str = ".", stages: list[str] | None = None, force: bool = False) -> dict[str, Any]:
    """The whole DAG, or the given stages plus whatever upstream of them is stale (``force``: the given stages,
    or all if none, recomputed even if up to date)."""
    r = Path(root).resolve()
    return _run(r, dag.topological_order(read_params_yaml(r / "params.yaml"), stages or None), force, stages or None)


def _workflow(root: str, name: str, force: bool) -> dict[str, Any]:
    r = Path(root).resolve()
    mine = [s.name for s in STAGES if s.flow == name]
    return _run(r, dag.topological_order(read_params_yaml(r / "params.yaml"), mine), force, mine)


@flow(name="acoustic_event_classification", log_prints=True)
def acoustic_event_classification(root: str = ".", force: bool = False) -> dict[str, Any]:
    """Workflow 2: labelled audio -> spectrogram chunks -> CNN training -> evaluation."""
    return _workflow(root, "acoustic_event_classification", force)


@flow(name="image_to_soundscape", log_prints=True)
def image_to_soundscape(root: str = ".", force: bool = False) -> dict[str, Any]:
    """Workflow 1: street images -> ERFNet segmentation (train, evaluate, predict) -> Scaper soundscapes."""
    return _workflow(root, "image_to_soundscape", force)


@flow(name="sound_localisation", log_prints=True)
def sound_localisation(root: str = ".", force: bool = False) -> dict[str, Any]:
    """Workflow 3: audiovisual scenes -> HDF5 pairs -> stage 1 -> stage 2 -> cIoU / AUC with baselines, overlays."""
    return _workflow(root, "sound_localisation", force)


@flow(name="spectral_transcoder", log_prints=True)
def spectral_transcoder(root: str = ".", force: bool = False) -> dict[str, Any]:
    """Workflow 4: third-octave -> Mel transcoders (PINV, CNN-mels, CNN-logits) judged through a frozen teacher."""
    return _workflow(root, "spectral_transcoder", force)


@flow(name="text_to_audio", log_prints=True)
def text_to_audio(root: str = ".", force: bool = False) -> dict[str, Any]:
    """Workflow 5: prompts -> generated clips -> log-mel stores -> classifiers per configuration -> summary."""
    return _workflow(root, "text_to_audio", force)


FLOWS = {
    "soundflow": pipeline,
    "acoustic_event_classification": acoustic_event_classification,
    "image_to_soundscape": image_to_soundscape,
    "sound_localisation": sound_localisation,
    "spectral_transcoder": spectral_transcoder,
    "text_to_audio": text_to_audio,
}
