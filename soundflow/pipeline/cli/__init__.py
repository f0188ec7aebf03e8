"""``soundflow``: run, inspect and use the pipeline (a Click command group; ``soundflow --help`` lists the commands).

app.py holds the group and its error boundary, command.py what every command shares (its ``args``, the workspace
lock, ``--verbose``); the other modules hold the commands, one module per group of them: pipeline.py (run, repro,
list, stage), project.py (params, dvc-yaml, reproduce, datasets, download), predict.py (predict, segment,
transcode-audio), features.py, export.py; the operations commands are in soundflow/pipeline/ops/*_cli.py.
"""

from soundflow.pipeline.cli.app import main, run_module

__all__ = ["main", "run_module"]
