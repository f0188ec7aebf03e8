"""One ``soundflow`` command: a Click command that declares whether it writes the workspace.

A command's function takes one namespace, ``args``, of its parsed parameters (lists where a parameter repeats,
``None`` where an option is absent), so a function reads ``args.out`` whichever module declares it. Around the
function, :meth:`Command.invoke` takes the workspace lock when the command writes, and notes what the error
boundary (soundflow/pipeline/cli/app.py) needs: whether a traceback was asked for, whether the process may end
without the interpreter's teardown.
"""

from __future__ import annotations

import contextlib
import os
import shlex
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import click

from soundflow import env

VERBOSE_ENV = "SOUNDFLOW_VERBOSE"  # set (e.g. under `dvc repro`, whose stage commands are fixed): tracebacks shown
VERBOSE_HELP = f"on an error, show its traceback too (or set {VERBOSE_ENV}=1)"

Writes = bool | Callable[[SimpleNamespace], bool]


def project_root() -> Path:
    """The project this command works on, with its environment (PREFECT_HOME, MLflow's store...) configured."""
    root = env.find_root()
    env.configure(root)
    return root


@dataclass
class Invocation:
    """One command line being run: what its command noted for the error boundary and run_module."""

    argv: list[str]
    traceback: bool = False  # --verbose, before or after the command
    exit_now: bool = False  # done and recorded: the process may skip the interpreter's teardown
    parse_only: bool = False  # parse and resolve, run nothing (app.parse)
    parsed: tuple[Command, SimpleNamespace] | None = field(default=None, repr=False)

    def verbose(self) -> bool:
        return self.traceback or os.environ.get(VERBOSE_ENV, "") not in ("", "0")

    def workspace(self, writes: bool) -> contextlib.AbstractContextManager[object]:
        """The workspace lock for a command that writes, else nothing."""
        if not writes or env.launch_rank() != 0:  # a torchrun rank other than 0 works under rank 0's lock
            return contextlib.nullcontext()
        from soundflow.pipeline import workspace_lock

        return workspace_lock.hold(project_root(), "soundflow " + shlex.join(self.argv))


class Command(click.Command):
    """A command whose function takes ``args``; ``writes`` (a bool, or a function of ``args``) says whether it
    writes the workspace, declared next to each command so none is left to a default."""

    def __init__(self, *args: Any, writes: Writes, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.writes = writes
        if not any("--verbose" in p.opts for p in self.params):  # `list` keeps its own -v/--verbose
            self.params.append(click.Option(["--verbose", "traceback"], is_flag=True, help=VERBOSE_HELP))

    def get_short_help_str(self, limit: int = 45) -> str:
        return self.short_help or (self.help or "").split("\n\n")[0]  # whole, wrapped: not cut at 45 characters

    def arguments(self, params: dict[str, Any]) -> SimpleNamespace:
        """Click's parsed values as the command's function reads them."""
        values = dict(params)
        for p in self.params:
            if isinstance(values.get(p.name), tuple):
                values[p.name] = list(values[p.name]) or (None if isinstance(p, click.Option) else [])
        return SimpleNamespace(**values)

    def writes_for(self, args: SimpleNamespace) -> bool:
        return bool(self.writes(args) if callable(self.writes) else self.writes)

    def invoke(self, ctx: click.Context) -> Any:
        args = self.arguments(ctx.params)
        run = ctx.find_object(Invocation)
        run.traceback = run.traceback or vars(args).pop("traceback", False) or getattr(args, "verbose", False)
        if run.parse_only:
            run.parsed = (self, args)
            return 0
        with run.workspace(self.writes_for(args)):  # taken before any work: a refused command has changed nothing
            code = ctx.invoke(self.callback, args)
        run.exit_now = getattr(args, "exit_now", False)
        return code


def command(name: str, *, writes: Writes, help: str) -> Callable[[Callable[..., int]], Command]:
    """``@command("run", writes=True, help=...)`` over Click's ``@click.argument``/``@click.option``."""
    return click.command(name, cls=Command, writes=writes, help=help)
