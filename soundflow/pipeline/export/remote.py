"""The DVC remote every exported step pulls from and pushes to, checked against the committed ``.dvc/config``.

A cluster step's workspace starts empty of data: its inputs arrive by ``dvc pull`` and its outputs leave by
``dvc push``, so an export without a remote would run every step against a cache that dies with its pod. The
steps run the image, built from the repository, so only the committed ``.dvc/config`` counts
(``.dvc/config.local`` stays on this machine and out of the image: ``.dockerignore``).
"""

from __future__ import annotations

from pathlib import Path

from soundflow.errors import UserError

CONFIG = ".dvc/config"
ADD_ONE = "add one with `dvc remote add -d <name> s3://<bucket>/<path>` and commit .dvc/config"


class NoRemote(UserError):
    """The export names no remote that ``.dvc/config`` defines."""


def remotes(root: Path) -> tuple[dict[str, object], str | None]:
    """The remotes ``.dvc/config`` defines (name -> settings) and its default remote (``core.remote``)."""
    from dvc.config import Config  # DVC's own reader of its config format (configobj, quoted section names)

    dvc_dir = Path(root) / ".dvc"
    config = Config(dvc_dir=str(dvc_dir), validate=False).load_one("repo") if dvc_dir.is_dir() else {}
    return dict(config.get("remote") or {}), (config.get("core") or {}).get("remote")


def resolve(root: Path, remote: str | None) -> str:
    """``remote`` if ``.dvc/config`` defines it, else the config's default remote; refused (one sentence) without."""
    defined, default = remotes(root)
    path = Path(root) / CONFIG
    if not defined:
        raise NoRemote(f"{path} defines no DVC remote, and every exported step pulls and pushes through one: {ADD_ONE}")
    name = remote or default
    if name is None:
        raise NoRemote(
            f"{path} has no default remote: pass --remote with one of {', '.join(sorted(defined))}, "
            "or set one with `dvc remote default <name>`"
        )
    if name not in defined:
        raise NoRemote(
            f"{path} defines no remote {name!r} (it defines {', '.join(sorted(defined))}): "
            f"pass one of those, or {ADD_ONE}"
        )
    return name
