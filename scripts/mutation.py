"""Mutation testing of chosen modules with mutmut, one module at a time, each against its fast tests only.

    python scripts/mutation.py soundflow/metrics.py tasks/segmentation/iou.py=tests/tasks/segmentation/test_iou.py

A module's tests are ``tests/<its folder>/test_<its name>*.py`` unless given after ``=`` (comma-separated).
Each module runs in a scratch copy of the project (``--work``, default ``.soundflow/mutation/<module>``) whose
``[tool.mutmut]`` is the repository's narrowed to that module and those tests, so the shared working tree
never gets a ``mutants/`` folder. The score of a module is killed / (mutants - known equivalents), where
a timeout counts as killed; the known equivalent mutants are listed in ``scripts/mutation_equivalent.txt``
(name | mutated line | why), and one whose mutated line no longer matches is not excluded but reported.
Exit status 1 when a module scores under ``--min-score``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EQUIVALENT = ROOT / "scripts" / "mutation_equivalent.txt"
KILLED = {"killed", "timeout", "caught by type check"}


@dataclass
class Score:
    module: str
    status: dict[str, str]  # mutant name -> mutmut's status word
    equivalent: list[str] = field(default_factory=list)
    survivors: dict[str, str] = field(default_factory=dict)  # name -> diff

    @property
    def counted(self) -> int:
        return len(self.status) - len(self.equivalent)

    @property
    def killed(self) -> int:
        return sum(s in KILLED for s in self.status.values())

    @property
    def timeouts(self) -> int:
        return sum(s == "timeout" for s in self.status.values())

    @property
    def percent(self) -> float:
        return 100.0 * self.killed / self.counted if self.counted else 100.0


def parse_target(arg: str) -> tuple[str, list[str]]:
    """``module.py`` or ``module.py=tests/a.py,tests/b.py`` -> (module, test files), checked to exist."""
    module, _, tests = arg.partition("=")
    if not (ROOT / module).is_file():
        raise SystemExit(f"mutation: {module}: no such module in {ROOT}")
    if tests:
        found = [t for t in tests.split(",") if t]
    else:
        path = Path(module)
        found = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests" / path.parent).glob(f"test_{path.stem}*.py"))
    missing = [t for t in found if not (ROOT / t).is_file()]
    if not found or missing:
        raise SystemExit(
            f"mutation: {module}: test files {missing or 'tests/.../test_<name>*.py'} not found; "
            f"name them as {module}=tests/a.py,tests/b.py"
        )
    return module, found


def toml_section(config: dict) -> str:
    # strings, booleans, numbers and lists of them: JSON spells each as TOML does
    return "[tool.mutmut]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in config.items())


def narrowed_pyproject(text: str, module: str, tests: list[str]) -> str:
    """The project's pyproject.toml with its [tool.mutmut] narrowed to one module and its tests."""
    config = dict(tomllib.loads(text).get("tool", {}).get("mutmut", {}))
    config.update(only_mutate=[module], pytest_add_cli_args_test_selection=tests)
    config.pop("tests_dir", None)
    without = re.sub(r"(?ms)^\[tool\.mutmut\]\n.*?(?=^\[|\Z)", "", text)
    return without.rstrip("\n") + "\n\n" + toml_section(config)


def prepare(work: Path, module: str, tests: list[str]) -> None:
    sys.path.insert(0, str(ROOT))
    from soundflow.pipeline.workspace import copy_project  # a git repository with DVC initialised, as in a fresh clone

    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    copy_project(ROOT, work)
    pyproject = work / "pyproject.toml"
    pyproject.write_text(narrowed_pyproject(pyproject.read_text(), module, tests))
    # tests that open the project with DVC run inside mutants/, and DVC skips dvc.yaml files git ignores
    ignore = work / ".gitignore"
    ignore.write_text(
        "".join(
            line
            for line in ignore.read_text().splitlines(keepends=True)
            if line.strip() not in ("/mutants/", "mutants/")
        )
    )


def load_equivalents() -> dict[str, tuple[str, str]]:
    """name -> (mutated line, why) from scripts/mutation_equivalent.txt (# comments, blank lines skipped)."""
    known: dict[str, tuple[str, str]] = {}
    if not EQUIVALENT.is_file():
        return known
    for n, line in enumerate(EQUIVALENT.read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        # the mutated line may itself hold " | " (bitwise or): the name is the first field, the reason the last
        name, _, rest = line.partition(" | ")
        mutated, _, why = rest.rpartition(" | ")
        if not (name.strip() and mutated.strip() and why.strip()):
            raise SystemExit(f"{EQUIVALENT}:{n}: expected 'name | mutated line | why', got {line!r}")
        known[name.strip()] = (mutated.strip(), why.strip())
    return known


def mutated_line(diff: str) -> str:
    added = [line[1:].strip() for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    return added[0] if added else ""


def score(work: Path, module: str, env: dict[str, str]) -> Score:
    from mutmut.stats import status_by_exit_code  # mutmut's own exit-code -> status table

    meta = json.loads((work / "mutants" / f"{module}.meta").read_text())
    result = Score(module, {k: status_by_exit_code[v] for k, v in meta["exit_code_by_key"].items()})
    known = load_equivalents()
    for name, status in sorted(result.status.items()):
        if status in KILLED:
            continue
        diff = subprocess.run(
            [sys.executable, "-m", "mutmut", "show", name], cwd=work, env=env, text=True, capture_output=True
        ).stdout
        if name in known and known[name][0] == mutated_line(diff):
            result.equivalent.append(name)
        else:
            note = " (listed as equivalent, but its mutated line changed: re-check)" if name in known else ""
            result.survivors[name] = f"{status}{note}\n{diff}"
    return result


def run_module(module: str, tests: list[str], work: Path, jobs: int, run: bool = True) -> Score:
    # mutmut forks a test process per mutant from one that has run torch: a forked child waits forever on
    # the parent's OpenMP/BLAS thread pool (every mutant "timed out"), so each process keeps to one thread
    env = {
        **os.environ,
        "PYTHONDONTWRITEBYTECODE": "1",
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
    }
    env.pop("PYTHONPATH", None)
    if run:
        prepare(work, module, tests)
        print(f"== {module}: mutmut against {' '.join(tests)} in {work}", flush=True)
        done = subprocess.run([sys.executable, "-m", "mutmut", "run", "--max-children", str(jobs)], cwd=work, env=env)
        if done.returncode:
            raise SystemExit(
                f"mutation: {module}: mutmut failed (exit {done.returncode}, output above); its scratch copy is {work}"
            )
    if not (work / "mutants" / f"{module}.meta").is_file():
        raise SystemExit(f"mutation: {module}: no results in {work}/mutants: run it without --score-only first")
    return score(work, module, env)


def report(scores: list[Score], out: Path) -> str:
    lines = [
        "| module | mutants | equivalent | killed (of which timeouts) | score |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {s.module} | {len(s.status)} | {len(s.equivalent)} | {s.killed} ({s.timeouts}) | {s.percent:.1f} % |"
        for s in scores
    ]
    text = "\n".join(lines) + "\n"
    if any(s.timeouts for s in scores):
        text += "\nTimeouts count as killed, but a test process that hangs reads as one too: check them.\n"
    for s in scores:
        for name, diff in s.survivors.items():
            text += f"\n### survived: {name}: {diff}\n"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return text


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("modules", nargs="+", help="module.py or module.py=tests/a.py,tests/b.py")
    ap.add_argument("--work", type=Path, default=ROOT / ".soundflow" / "mutation")
    ap.add_argument("--jobs", type=int, default=1, help="mutants tested at once (CPU cores to use)")
    ap.add_argument("--min-score", type=float, default=90.0)
    ap.add_argument(
        "--score-only", action="store_true", help="score the last run again (after editing the equivalents)"
    )
    args = ap.parse_args(argv)
    targets = [parse_target(a) for a in args.modules]  # all checked before the first (long) run
    scores = []
    for module, tests in targets:
        work = args.work / module.replace("/", "_").removesuffix(".py")
        scores.append(run_module(module, tests, work, args.jobs, run=not args.score_only))
    print(report(scores, args.work / "report.md"))
    low = [s.module for s in scores if s.percent < args.min_score]
    if low:
        print(f"under {args.min_score:.0f} %: {', '.join(low)}")
    return 1 if low else 0


if __name__ == "__main__":
    sys.exit(main())
