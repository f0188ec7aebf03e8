"""scripts/mutation.py's bookkeeping: which tests a module gets, the narrowed mutmut config, the equivalents list."""

from __future__ import annotations

import importlib.util
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def mutation():
    spec = importlib.util.spec_from_file_location("mutation_script", ROOT / "scripts" / "mutation.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def test_tests_by_convention_or_by_name(mutation) -> None:
    metrics = ("soundflow/metrics.py", ["tests/soundflow/test_metrics.py"])
    assert mutation.parse_target("soundflow/metrics.py") == metrics
    module, tests = mutation.parse_target("soundflow/pipeline/dag.py")
    assert "tests/soundflow/pipeline/test_dag_order.py" in tests and "tests/soundflow/pipeline/test_dag.py" in tests
    named = "soundflow/pipeline/dag.py=tests/soundflow/pipeline/test_dag_order.py"
    assert mutation.parse_target(named) == ("soundflow/pipeline/dag.py", ["tests/soundflow/pipeline/test_dag_order.py"])
    with pytest.raises(SystemExit, match="no such module"):
        mutation.parse_target("soundflow/nothing.py")
    with pytest.raises(SystemExit, match="not found"):
        mutation.parse_target("soundflow/pipeline/dag.py=tests/missing.py")


def test_config_is_narrowed_to_one_module_and_keeps_the_rest(mutation) -> None:
    text = (ROOT / "pyproject.toml").read_text()
    narrowed = tomllib.loads(
        mutation.narrowed_pyproject(text, "soundflow/metrics.py", ["tests/soundflow/test_metrics.py"])
    )
    original = tomllib.loads(text)
    config = narrowed["tool"]["mutmut"]
    assert config["only_mutate"] == ["soundflow/metrics.py"]
    assert config["pytest_add_cli_args_test_selection"] == ["tests/soundflow/test_metrics.py"]
    assert config["source_paths"] == original["tool"]["mutmut"]["source_paths"]
    assert narrowed["project"] == original["project"] and narrowed["tool"]["pytest"] == original["tool"]["pytest"]


def test_equivalents_list_parses(mutation) -> None:
    known = mutation.load_equivalents()
    assert known and all(name.count("__mutmut_") == 1 and line and why for name, (line, why) in known.items())
    diff = "--- a.py\n+++ a.py\n@@ -1 +1 @@\n-    x = a | b\n+    x = a & b\n"
    assert mutation.mutated_line(diff) == "x = a & b"
