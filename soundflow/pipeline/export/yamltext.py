"""YAML text of an exported pipeline, the same whatever else the process imported.

hera registers a process-wide PyYAML presenter for ``str`` when imported (block style for multi-line
strings), which would change how kfp's compiler writes the same pipeline; dumping through this dumper,
whose ``str`` presenter is its own, keeps every export byte-identical (the golden files rely on it).
"""

from __future__ import annotations

from typing import Any

import yaml


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    # scripts as block scalars: readable in the file and in the engines' UIs
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str)


def dump(obj: Any, header: str = "", sort_keys: bool = False) -> str:
    return header + yaml.dump(obj, Dumper=_Dumper, sort_keys=sort_keys, width=120, allow_unicode=True)


def leading_comments(text: str) -> str:
    """The comment lines a file starts with (kfp's compiler writes the pipeline's name there)."""
    lines = []
    for line in text.splitlines(keepends=True):
        if not line.startswith("#"):
            break
        lines.append(line)
    return "".join(lines)
