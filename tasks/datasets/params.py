"""Parameters of the ``datasets`` stage (``data.download``): which registered corpora it fetches, from where.

The procedural datasets' parameters are :mod:`tasks.procedural.params`.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_core import PydanticCustomError

from soundflow.params_base import SECRET_ERROR, Strict


class DownloadParams(Strict):
    """Registered datasets the ``datasets`` stage fetches into data/datasets (empty: the pipeline stays offline)."""

    datasets: list[str] = Field(default_factory=list)  # names of tasks.datasets.registry
    base_url: str | None = None  # a mirror: replaces scheme and host of every download and login URL

    @field_validator("datasets")
    @classmethod
    def _registered_once(cls, v: list[str]) -> list[str]:
        dupes = sorted({n for n in v if v.count(n) > 1})
        if dupes:
            raise ValueError(f"listed more than once: {', '.join(dupes)}")
        if v:  # the registry imports every corpus module: not worth it for the offline default
            from tasks.datasets.registry import available

            unknown = [n for n in v if n not in available()]
            if unknown:
                raise ValueError(f"unknown dataset(s) {', '.join(map(repr, unknown))}; known: {', '.join(available())}")
        return v

    @field_validator("base_url")
    @classmethod
    def _plain_http_url(cls, v: str | None) -> str | None:
        if v is None:
            return v
        u = urlsplit(v)
        if u.username or u.password:
            # params.yaml is committed and logged to MLflow; logins come from the environment
            raise PydanticCustomError(
                SECRET_ERROR,
                "must not carry credentials (the corpora's logins come from "
                "environment variables such as CITYSCAPES_USERNAME/CITYSCAPES_PASSWORD)",
            )
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError("expected an http(s) URL such as https://mirror.example.org")
        return v
