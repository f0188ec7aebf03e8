"""The ``soundflow`` command group and its error boundary: a user's mistake is one line and an exit code (2 for a
command line Click refuses, said as ``soundflow CMD: error: ...``; a :class:`~soundflow.errors.UserError`'s own
code otherwise), the traceback only with ``--verbose``. The commands live in the modules :data:`COMMANDS` names,
one per group of commands (soundflow/pipeline/cli/*.py, soundflow/pipeline/ops/*_cli.py).
"""

from __future__ import annotations

import difflib
import importlib
import os
import sys
import traceback
from collections.abc import Sequence
from types import SimpleNamespace

import click

from soundflow.errors import UserError
from soundflow.pipeline.cli.command import VERBOSE_HELP, Command, Invocation

HELP = """run, inspect and use the pipeline.

\b
  soundflow run [STAGE ...] [--force] [--flow NAME]   the DAG (or stages + stale upstream) as a Prefect flow
  soundflow repro [STAGE ...]                        the same through `dvc repro`, grouped in one MLflow run
  soundflow list                                     every stage with its status (up to date / stale and why)
  soundflow stage NAME                               run one stage now (the command DVC runs)
  soundflow predict FILE.wav [...]                   top classes per file from the trained AED checkpoint
  soundflow predict --model models:/NAME@ALIAS ...   the same from a registered model (or a checkpoint file)
  soundflow predict --model yamnet FILE.wav [...]    AudioSet top classes from Google's pretrained YAMNet
  soundflow segment --test-images DIR [--test-images-type png|jpg]   ERFNet label maps and overlays
  soundflow features REPR SOURCE --out DIR [--dask]  a feature store of any labelled audio / image folder or CSV
  soundflow transcode-audio FILE.wav [...]           a wav's Mel and each transcoder's Mel back to audio (Griffin-Lim)
  soundflow datasets                                 the dataset registry (size, licence, present locally)
  soundflow download NAME                            fetch, verify, extract and prepare one dataset into data/raw
  soundflow dvc-yaml [--check]                       write (or check) dvc.yaml from flows/workflows/
  soundflow params [--apply FILE ...]                validate params.yaml (first setting each FILE's values in it)
  soundflow reproduce WORKFLOW [--dry-run]           a workflow at its paper's sizes (configs/paper/): a DVC experiment
  soundflow server prefect|mlflow|s3 [--port N]      a server in the foreground (Prefect API + UI, MLflow, S3)
  soundflow sync [--to URI]                          send the runs kept offline while MLflow was unreachable
  soundflow serve [--flow NAME ...]                  every flow as a Prefect deployment, schedules from params.yaml
  soundflow worker [--pool NAME]                     a Prefect worker on the process pool (prefect.yaml)
  soundflow export argo|kfp [--out FILE] [--image IMAGE] [--remote NAME]   the DAG for Argo / Kubeflow
  soundflow compare [--workflow W] [--metric M]      tracked runs side by side (terminal, CSV, PNG)
  soundflow register [--workflow W] [--metric M]     best runs' checkpoints in the model registry (aliases)

Commands that write the workspace (run, repro, stage, features, download, dvc-yaml, params --apply) hold its lock
(soundflow/pipeline/workspace_lock.py) while they run; a second one is refused with exit code 75.
"""

# Each command's module, imported only when the command is run or listed (Click's lazy loading: a stage process
# imports neither the servers' nor the predictors' modules). The order is that of `soundflow --help`.
COMMANDS = {
    "run": "soundflow.pipeline.cli.pipeline:cmd_run",
    "repro": "soundflow.pipeline.cli.pipeline:cmd_repro",
    "list": "soundflow.pipeline.cli.pipeline:cmd_list",
    "stage": "soundflow.pipeline.cli.pipeline:cmd_stage",
    "predict": "soundflow.pipeline.cli.predict:cmd_predict",
    "features": "soundflow.pipeline.cli.features:cmd_features",
    "segment": "soundflow.pipeline.cli.predict:cmd_segment",
    "transcode-audio": "soundflow.pipeline.cli.predict:cmd_transcode_audio",
    "datasets": "soundflow.pipeline.cli.project:cmd_datasets",
    "download": "soundflow.pipeline.cli.project:cmd_download",
    "dvc-yaml": "soundflow.pipeline.cli.project:cmd_dvc_yaml",
    "params": "soundflow.pipeline.cli.project:cmd_params",
    "reproduce": "soundflow.pipeline.cli.project:cmd_reproduce",
    "server": "soundflow.pipeline.ops.server_cli:cmd_server",
    "sync": "soundflow.pipeline.ops.sync_cli:cmd_sync",
    "serve": "soundflow.pipeline.ops.prefect_cli:cmd_serve",
    "worker": "soundflow.pipeline.ops.prefect_cli:cmd_worker",
    "compare": "soundflow.pipeline.ops.compare_cli:cmd_compare",
    "register": "soundflow.pipeline.ops.registry_cli:cmd_register",
    "export": "soundflow.pipeline.cli.export:cmd_export",
}


class Soundflow(click.Group):
    """``soundflow``: its commands loaded on demand, an unknown one refused with the likeliest name."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, name = COMMANDS[cmd_name].split(":")
        return getattr(importlib.import_module(module), name)

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[str | None, Command | None, list[str]]:
        name = args[0]
        if name not in COMMANDS and not name.startswith("-"):  # a typo is one line, before anything is imported
            close = difflib.get_close_matches(name, COMMANDS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise click.UsageError(f"unknown command {name!r}{hint} (`soundflow --help` lists them)", ctx)
        return super().resolve_command(ctx, args)


CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 120}  # -h too; wide terminals used


def _version() -> str:
    from soundflow import __version__

    return __version__


@click.group("soundflow", cls=Soundflow, help=HELP, context_settings=CONTEXT)
@click.version_option(_version(), "--version", prog_name="soundflow", message="%(prog)s %(version)s")
@click.option("-v", "--verbose", "traceback", is_flag=True, help=VERBOSE_HELP)
@click.pass_context
def soundflow(ctx: click.Context, traceback: bool) -> None:
    ctx.find_object(Invocation).traceback = traceback


def _fail(err: BaseException, run: Invocation, code: int) -> int:
    """The error boundary's output: the traceback only when asked for, then one line naming the problem."""
    if run.verbose():
        traceback.print_exception(err, file=sys.stderr)
    print(f"soundflow: {err}", file=sys.stderr)
    return code


def _usage_error(err: click.UsageError) -> int:
    """A command line Click refuses: one line, exit 2; ``soundflow CMD --help`` says more."""
    where = err.ctx.command_path if err.ctx else "soundflow"
    print(f"{where}: error: {' '.join(err.format_message().split())}", file=sys.stderr)
    return err.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    return _main(argv)[0]


def _main(argv: Sequence[str] | None) -> tuple[int, bool]:
    """The exit code, and whether the command finished all it had to (its lock released): see run_module."""
    run = Invocation(sys.argv[1:] if argv is None else list(argv))
    try:
        code = soundflow.main(run.argv, prog_name="soundflow", standalone_mode=False, obj=run)
        return code, run.exit_now
    except click.exceptions.NoArgsIsHelpError:
        print("soundflow: error: missing command (`soundflow --help` lists them)", file=sys.stderr)
        return 2, False
    except click.UsageError as err:
        return _usage_error(err), False
    except click.ClickException as err:
        print(f"soundflow: error: {err.format_message()}", file=sys.stderr)
        return err.exit_code, False
    except click.exceptions.Abort:  # Ctrl-C: the lock is released, the shell's code for SIGINT
        return 130, False
    except UserError as err:  # a mistake the user can fix (soundflow/errors.py): one line, no traceback
        return _fail(err, run, err.exit_code), False
    except FileNotFoundError as err:
        return _fail(err, run, 2), False


def parse(argv: Sequence[str]) -> tuple[Command, SimpleNamespace]:
    """The command ``argv`` names and the ``args`` its function would get, as :func:`main` parses them, without
    running anything; a refused command line raises :class:`click.UsageError`."""
    run = Invocation(list(argv), parse_only=True)
    soundflow.main(run.argv, prog_name="soundflow", standalone_mode=False, obj=run)
    if run.parsed is None:
        raise click.UsageError(f"no command in {list(argv)!r}")
    return run.parsed


def run_module() -> int:
    """``python -m soundflow``: a stage that finished ends its process without the interpreter's teardown
    (soundflow/process_exit.py), which costs a stage process about 2 CPU s; anything else exits as usual."""
    code, done = _main(None)
    if done and os.environ.get("WORLD_SIZE", "1") == "1":  # torchrun ranks tear down their process group
        from soundflow.process_exit import exit_now

        exit_now(code)
    return code
