#!/usr/bin/env python
"""The reliability scoreboard: run ``tests/reliability`` and print one table of what was tried and what harm was found.

    .venv/bin/python benchmarks/reliability.py [--fast] [--json PATH] [-- PYTEST_ARGS...]

Every test of the suite records the cases it tried (faults injected, bad inputs, cached outputs tampered
with, secrets passed through) and the harm it found (files lost or half-written, stale or corrupt results
served, secrets found, errors that were not one sentence), see ``tests/reliability/conftest.py``. A case
counts as survived / handled when its test passed. The long runs (marker ``soak``: many kill points in every
workflow) are included unless ``--fast``, which runs what ``make test`` runs. Writes
``reports/reliability.md`` and ``.json``; exits non-zero when a test failed or any harm was found.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

KIND_ROWS = {
    "fault": "faults injected (kill mid-stage, disk full, server down, concurrent runs)",
    "bad_input": "bad inputs tried (audio, images, videos, CSVs, params, archives, CLI arguments)",
    "tamper": "cached outputs modified, truncated or deleted by hand",
    "secret": "sentinel secrets passed through both engines and the servers",
}
HARM_ROWS = {
    "files_lost": "files lost or left half-written (must be 0)",
    "stale_served": "stale or corrupt results served (must be 0)",
    "secrets_found": "secrets found in logs, MLflow, Prefect, DVC files, outputs, exports (must be 0)",
    "unclear": "errors that were not one sentence naming the file or key (must be 0)",
}


class _Collect:
    """A pytest plugin summing each test's ``user_properties`` by case kind and outcome."""

    def __init__(self) -> None:
        self.tried: Counter[str] = Counter()
        self.handled: Counter[str] = Counter()
        self.harm: Counter[str] = Counter()
        self.failed: list[str] = []

    def pytest_runtest_logreport(self, report) -> None:  # noqa: ANN001 - pytest's hook signature
        if report.when != "call" and not (report.failed and report.when == "setup"):
            return
        props = dict(report.user_properties)
        for key, n in props.items():
            kind, _, name = key.partition(":")
            if kind == "tried":
                self.tried[name] += n
                if report.passed:
                    self.handled[name] += n
            elif kind == "harm":
                self.harm[name] += n
        if report.failed:
            self.failed.append(report.nodeid)


def table(c: _Collect) -> str:
    lines = ["| case | tried | survived / handled |", "| --- | --- | --- |"]
    for kind, label in KIND_ROWS.items():
        lines.append(f"| {label} | {c.tried[kind]} | {c.handled[kind]} |")
    lines += ["", "| harm found | count |", "| --- | --- |"]
    lines += [f"| {label} | {c.harm[h]} |" for h, label in HARM_ROWS.items()]
    lines += ["", f"tests failed: {len(c.failed)}"] + [f"- {n}" for n in c.failed]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fast", action="store_true", help="leave out the long (soak) runs, as make test does")
    ap.add_argument("--json", type=Path, default=ROOT / "reports" / "reliability.json")
    ap.add_argument("pytest_args", nargs="*")
    args = ap.parse_args(argv)
    import pytest

    collect = _Collect()
    opts = ["-q", "-p", "no:cacheprovider", str(ROOT / "tests" / "reliability")]
    code = pytest.main(opts + ([] if args.fast else ["--soak"]) + args.pytest_args, plugins=[collect])
    text = table(collect)
    print("\n" + text)
    from soundflow.io import write_json, write_text

    write_text(args.json.with_suffix(".md"), "# Reliability scoreboard\n\n" + text)
    record = {"tried": dict(collect.tried), "handled": dict(collect.handled), "harm": dict(collect.harm)}
    write_json(args.json, {**record, "failed": collect.failed, "soak": not args.fast})
    return int(code != 0 or sum(collect.harm.values()) > 0)


if __name__ == "__main__":
    sys.exit(main())
