"""The content record of the generated clips: what a rerun may reuse and what a reader may trust.

``t2a_generate`` keeps its clips between runs (a killed or extended run generates only what is missing).
A file's existence cannot say that it still holds what the generator wrote: a clip edited, truncated or
replaced by hand (its size and modification time restored or not) would be reused and trained on. So each
clip's sha256 is recorded, as it is written, in ``metadata/clips.sha256.json`` (relative path -> digest):
a rerun reuses a clip only when its bytes hash to the record, and :func:`verify_clips` (the readers of the
generated set) refuses a clip that does not, naming it.
"""

from __future__ import annotations

import json
from pathlib import Path

from soundflow.digests import file_sha256
from soundflow.errors import UserError
from soundflow.io import write_json

RECORD = Path("metadata") / "clips.sha256.json"


class TamperedClip(UserError, ValueError):
    """A generated clip missing or altered since ``t2a_generate`` wrote it."""


def read_record(out_dir: Path) -> dict[str, str]:
    """The recorded digests by path relative to ``out_dir`` ({} when there is no readable record)."""
    try:
        clips = json.loads((Path(out_dir) / RECORD).read_text())["clips"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return {str(k): str(v) for k, v in clips.items()} if isinstance(clips, dict) else {}


def write_record(out_dir: Path, record: dict[str, str]) -> None:
    write_json(Path(out_dir) / RECORD, {"clips": record})


def intact(out_dir: Path, rel: str, record: dict[str, str]) -> bool:
    """Whether the clip ``rel`` exists and holds the bytes recorded for it."""
    return rel in record and file_sha256(Path(out_dir) / rel) == record[rel]


def verify_clips(out_dir: Path, rels: list[str]) -> None:
    """TamperedClip naming the first clip of ``rels`` (paths relative to ``out_dir``) that is missing or
    whose bytes differ from the record; the number of such clips is in the message."""
    record = read_record(out_dir)
    bad = [rel for rel in rels if not intact(out_dir, rel, record)]
    if bad:
        what = "not recorded" if bad[0] not in record else "missing or altered since t2a_generate wrote it"
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        raise TamperedClip(
            f"{Path(out_dir) / bad[0]}: generated clip {what}{more}; rerun t2a_generate to regenerate it"
        )
