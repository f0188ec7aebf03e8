"""``--checkpoint models:/<name>@<alias>`` or ``models:/<name>/<version>``: a registered version as a local file.

The version's checkpoint is the file its training run logged, or the raw checkpoint inside the MLflow Model
that ``soundflow register`` made of it (its path there in the version's ``soundflow.checkpoint`` tag); it is
downloaded through the tracking server (or from the local store) into a cache folder named by the version and
its run (``.soundflow/models``), so a second use downloads it again only if the file is gone or fails its
content hash (a damaged cached copy is replaced by a fresh download; a damaged source is a CheckpointError).
Anything that is not a ``models:/`` URI is returned as a path, unchanged.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from models.checkpoint_format import CheckpointError
from soundflow.checkpoints import load_checkpoint
from soundflow.io import atomic_path, remove_path
from soundflow.pipeline.tracking import tracking_uri

_URI = re.compile(r"^models:/(?P<name>[^/@]+)(?:@(?P<alias>[^/]+)|/(?P<version>\d+))$")


def is_model_uri(value: str) -> bool:
    return value.startswith("models:/")


def resolve_checkpoint(value: str, root: Path, cache: Path | None = None) -> Path:
    """A local checkpoint file for ``value`` (a path, or a registry URI resolved and downloaded)."""
    if not is_model_uri(value):
        return Path(value)
    m = _URI.match(value)
    if m is None:
        raise ValueError(f"{value}: not a registry URI; use models:/<name>@<alias> or models:/<name>/<version>")
    from mlflow.artifacts import download_artifacts
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    uri = tracking_uri(root)
    client = MlflowClient(uri)
    try:
        if m["alias"]:
            mv = client.get_model_version_by_alias(m["name"], m["alias"])
        else:
            mv = client.get_model_version(m["name"], m["version"])
    except MlflowException as err:
        raise ValueError(f"{value}: not found in the model registry at {uri}: {err.message}") from None
    # named by the training run too: version 1 of another tracking store is another file
    dest = (cache or Path(root) / ".soundflow" / "models") / f"{mv.name}-v{mv.version}-{mv.run_id}"
    inside = (mv.tags or {}).get("soundflow.checkpoint")  # registry.CHECKPOINT_TAG (pandas: not imported here)
    source = f"{mv.source}/{inside}" if inside else mv.source
    local = dest / Path(source).name
    if local.is_file():
        if _intact(local):
            return local
        print(f"{local}: cached copy of {value} is damaged; downloading it again", file=sys.stderr)
        remove_path(dest)
    with atomic_path(dest) as tmp:  # a killed download leaves no file that looks complete
        tmp.mkdir()
        download_artifacts(artifact_uri=source, dst_path=str(tmp), tracking_uri=uri)
    if not local.is_file():
        raise ValueError(f"{value}: version {mv.version}'s source {source} is not a checkpoint file")
    # a damaged source is refused here, naming the registered version rather than only the cache file
    load_checkpoint(local, remedy=f"version {mv.version} of {mv.name} is damaged at its source {source}")
    return local


def _intact(path: Path) -> bool:
    try:
        load_checkpoint(path)
    except CheckpointError:
        return False
    return True
