"""A throwaway PostgreSQL cluster on 127.0.0.1 (Debian's postgresql binaries), for the MLflow backend test.

``initdb`` refuses to run as root: as root the cluster is created and run as ``nobody`` (``runuser``), in a
folder it owns. Trust authentication on the loopback only; stopped and removed at the end.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from soundflow.pipeline.ops.servers import free_port


def postgres_bin() -> Path | None:
    """The folder of ``initdb``/``pg_ctl``: on PATH, or Debian's newest /usr/lib/postgresql/<N>/bin."""
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(versions[-1]).parent if versions else None


def _as_owner(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    # runuser lives in /sbin, which a non-login root shell's PATH may lack
    runuser = shutil.which("runuser") or next(s for s in ("/usr/sbin/runuser", "/sbin/runuser") if os.path.exists(s))
    return [runuser, "-u", "nobody", "--", *argv]


@contextmanager
def cluster(timeout: float = 60.0) -> Iterator[str]:
    """A running cluster; yields its URI (user and database ``postgres``)."""
    bin_dir = postgres_bin()
    assert bin_dir is not None, "no PostgreSQL binaries"
    # in the system's temp folder: pytest's own is private to the user running it, which nobody cannot enter
    folder = Path(tempfile.mkdtemp(prefix="soundflow-postgres-"))
    if os.geteuid() == 0:
        shutil.chown(folder, "nobody")
    data, port = folder / "data", free_port()
    run = dict(check=True, capture_output=True, text=True, timeout=timeout)
    subprocess.run(_as_owner([str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust"]), **run)
    opts = f"-k {folder} -p {port} -c listen_addresses=127.0.0.1"
    pg_ctl = [str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(folder / "postgres.log"), "-w"]
    subprocess.run(_as_owner([*pg_ctl, "-o", opts, "start"]), **run)
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(_as_owner([*pg_ctl, "-m", "fast", "stop"]), capture_output=True, timeout=timeout)
        shutil.rmtree(folder, ignore_errors=True)
