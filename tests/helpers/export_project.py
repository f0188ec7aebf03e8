"""A project the exports accept: the repository's stage inputs with DVC remotes in ``.dvc/config``, as a user has
them after ``dvc remote add -d storage s3://...`` (an export refuses a project without a remote)."""

from __future__ import annotations

import shutil
from pathlib import Path

from configobj import ConfigObj

REMOTES = {"storage": "s3://soundflow/dvc", "archive": "s3://soundflow-archive/dvc"}


def make_project(folder: Path, root: Path, remotes: dict[str, str], default: str | None) -> Path:
    """``folder`` holding what an export reads (params.yaml, dvc.yaml, data.dvc, .dvc/config) with ``remotes``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("params.yaml", "dvc.yaml", "data.dvc"):
        shutil.copyfile(root / name, folder / name)
    (folder / ".dvc").mkdir(exist_ok=True)
    shutil.copyfile(root / ".dvc/config", folder / ".dvc/config")
    config = ConfigObj(str(folder / ".dvc/config"))  # as `dvc remote add` writes it (DVC's config is configobj's)
    for name, url in remotes.items():
        config[f'remote "{name}"'] = {"url": url}
    if default:
        config.setdefault("core", {})["remote"] = default
    config.write()
    return folder
