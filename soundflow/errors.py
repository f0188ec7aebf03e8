"""The project's error types for mistakes a user can fix: the CLI prints their message as one line.

Every error a user can cause (a bad input file, a bad parameter, a corrupt checkpoint, an unreachable
host, a full disk) derives from :class:`UserError`. The command-line boundary (``soundflow.pipeline.cli.main``)
prints ``soundflow: <message>`` and exits non-zero; the traceback is shown only with ``--verbose`` (and
always lands in the stage's log). Anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class UserError(Exception):
    """A mistake the user can fix; the message is one sentence naming the file or key and the problem."""

    exit_code = 2


class DiskFull(UserError, OSError):
    """A write that found no space left (ENOSPC) or the quota spent (EDQUOT): the message names the disk,
    the file and, where known, the bytes needed. An ``OSError`` too, as the failure it replaces was one."""

    exit_code = 74  # sysexits.h EX_IOERR
