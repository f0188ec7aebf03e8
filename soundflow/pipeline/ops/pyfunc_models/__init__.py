"""A registered checkpoint as an MLflow Model: a pyfunc flavour over the project's own inference.

Each wrapper (one module per workflow) is a thin :class:`mlflow.pyfunc.PythonModel` that loads the raw checkpoint
(kept in the model as its ``checkpoint`` artifact) with the same code the project runs, so
``mlflow models serve`` answers what ``soundflow predict``, ``soundflow segment`` or the workflow's evaluation
computes for the same input: the AED's class probabilities of a clip, segmentation's label maps of images,
localisation's heatmap of an (image, clip) pair, the transcoder's Mel of third-octave chunks or the teacher's
class probabilities. The parameters the inference depends on (the AED's chunk overlap, localisation's frame
side, clip length and map options) are the model's config (``model_config`` in its MLmodel file), read from the
parameters of the run registered, so a served model computes as the pipeline did. The model needs this project
installed where it is served (``--env-manager local`` in the project's environment); its requirements pin the
libraries it calls.

Imports ``mlflow.pyfunc`` (seconds): imported by ``soundflow register`` only when it logs a model.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

import mlflow.pyfunc

from soundflow.pipeline.ops.pyfunc_models import aed, localisation, segmentation, transcoder
from soundflow.pipeline.ops.pyfunc_models.common import CHECKPOINT, REQUIREMENTS, Wrapper

# the training stage whose checkpoint each wrapper serves
WRAPPERS: dict[str, Wrapper] = {
    "aed_train": aed.WRAPPER,
    "seg_train": segmentation.WRAPPER,
    "loc_stage1": localisation.WRAPPER,
    "loc_stage2": localisation.WRAPPER,
    "transcoder_teacher": transcoder.TEACHER_WRAPPER,
    "transcoder_cnn_mels": transcoder.CNN_MELS,
    "transcoder_cnn_logits": transcoder.CNN_LOGITS,
}
__all__ = ["CHECKPOINT", "WRAPPERS", "model_config", "save_model"]


def model_config(wrapper: Wrapper, params: Mapping[str, str]) -> dict[str, Any]:
    """The wrapper's config from a run's parameters (MLflow keeps them as text: YAML scalars and JSON lists); a
    parameter the run did not log is read from the project's params.yaml as it is now."""
    import yaml

    config, missing = {}, {}
    for name, key in wrapper.params.items():
        if key in params:
            config[name] = yaml.safe_load(str(params[key]))
        else:
            missing[name] = key
    if missing:
        config |= {name: _current_param(key) for name, key in missing.items()}
    return config


def _current_param(key: str) -> Any:
    from soundflow import env
    from soundflow.pipeline.config import PARAMS_FILE, read_params_yaml, select

    try:
        return select(read_params_yaml(env.find_root() / PARAMS_FILE), key)
    except (FileNotFoundError, KeyError):
        raise LookupError(f"{key}: the run registered did not log it and no params.yaml here gives it") from None


def save_model(
    train_stage: str,
    checkpoint: Path,
    dest: Path,
    params: Mapping[str, str] | None = None,
    upstream: Mapping[str, Path] | None = None,
) -> bool:
    """The MLflow Model of ``checkpoint`` written to the new folder ``dest``; False if its stage has no wrapper.

    ``params``: the registered run's parameters (its config is read from them); ``upstream``: the checkpoints of
    the training stages the wrapper also needs (``Wrapper.upstream``), by stage."""
    wrapper = WRAPPERS.get(train_stage)
    if wrapper is None:
        return False
    upstream = dict(upstream or {})
    lacking = [s for s in wrapper.upstream if s not in upstream]
    if lacking:
        raise LookupError(f"{train_stage}: its model also needs the checkpoint of {', '.join(lacking)}")
    python_model, signature, example = wrapper.build(checkpoint, upstream)
    mlflow.pyfunc.save_model(
        str(dest),
        python_model=python_model,
        artifacts={CHECKPOINT: str(checkpoint), **{s: str(upstream[s]) for s in wrapper.upstream}},
        signature=signature,
        input_example=example,
        pip_requirements=[f"{n}=={metadata.version(n)}" for n in REQUIREMENTS],
        model_config=model_config(wrapper, params or {}) or None,
        metadata={"soundflow.stage": train_stage, "soundflow.checkpoint": checkpoint.name},
    )
    return True
