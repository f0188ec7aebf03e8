"""What a stage process and a no-op command cost besides their work: before/after side by side, in one run.

"before" is a git worktree of a base commit (``--base``, default HEAD: the committed code), "after" the working
tree; each runs in its own scratch copy (soundflow.pipeline.workspace.copy_project with TINY params) built by
``dvc repro`` of a few stages, then each measurement alternates between the two. Costs are CPU seconds
(user + system of the process and its children, from ``wait4``), which a loaded machine changes far less than
wall time; peak memory is the process's maximum resident set.

A stage's fixed cost is the process's CPU time less the CPU time of its ``run`` (measured inside the process
by a wrapper around the stage table's entry): what every ``dvc repro`` stage pays before and after its work.

    .venv/bin/python benchmarks/bench_overhead.py [--base COMMIT] [--rounds 2]

Writes reports/overhead.md and reports/overhead.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILT = ["street_scenes", "seg_class_weights", "sound_library"]
DEFERRED, DIRECT = "under `soundflow repro`", "under a bare `dvc repro`"  # tracking journalled / sent by the stage
STAGE_RUNS = [
    ("sound_library", DEFERRED),  # torch-free
    ("sound_library", DIRECT),
    ("seg_class_weights", DEFERRED),  # its data check and its work load the Cityscapes reader, which imports torch
    ("seg_train", DEFERRED),  # a training stage
    ("seg_train", DIRECT),
]
# `python -c` stand-in for `python -m soundflow stage NAME` that writes the CPU seconds of the stage's `run`
STAGE = """
import dataclasses, runpy, sys, time
import soundflow.pipeline.stages as st
name, out = sys.argv[1], sys.argv[2]
sys.argv = ["soundflow", "stage", name]
table = st.get_stage
def timed(n):
    s = table(n)
    def run(p, root, _run=s.run):
        t = time.process_time()
        try:
            return _run(p, root)
        finally:
            open(out, "w").write(repr(time.process_time() - t))
    return dataclasses.replace(s, run=run)
st.get_stage = timed
runpy.run_module("soundflow", run_name="__main__", alter_sys=True)
"""


# `python -c` run in a tree: DVC's rewrite of dvc.lock after a stage (Lockfile.dump_stages: a round-trip YAML load
# and dump of the whole file) on a lock of the whole DAG as that tree's dvc.yaml declares it (every dep an entry
# with DVC's fields); prints the lock's entries, its bytes and the CPU seconds of one rewrite (least of 3)
LOCK_REWRITE = """
import sys, time, yaml
from pathlib import Path
from dvc.utils.serialize import modify_yaml
stages = yaml.safe_load(Path("dvc.yaml").read_text())["stages"]
entry = lambda p: {"path": p, "hash": "md5", "md5": "0123456789abcdef0123456789abcdef", "size": 12345}
lock = {"schema": "2.0", "stages": {n: {"cmd": s["cmd"], "deps": [entry(d) for d in s.get("deps", [])],
        "outs": [entry(o if isinstance(o, str) else next(iter(o))) for o in s.get("outs", [])]}
        for n, s in stages.items()}}
path = Path(sys.argv[1])
path.write_text(yaml.safe_dump(lock, sort_keys=False))
best = float("inf")
for _ in range(3):
    t = time.process_time()
    with modify_yaml(str(path)) as data:
        data["stages"]["datasets"]["cmd"] += " "
    best = min(best, time.process_time() - t)
n = sum(len(s["deps"]) + len(s["outs"]) for s in lock["stages"].values())
print(n, path.stat().st_size, best)
"""


def lock_rewrite(tree: Path, work: Path) -> dict[str, float]:
    """DVC's cost of rewriting the whole DAG's dvc.lock after each stage it runs, with ``tree``'s dvc.yaml."""
    out = subprocess.run([str(ROOT / ".venv/bin/python"), "-c", LOCK_REWRITE, str(work / "dvc.lock")], cwd=tree,
                         capture_output=True, text=True, check=True).stdout.split()  # fmt: skip
    return {"entries": int(out[0]), "kb": int(out[1]) / 1024, "cpu": float(out[2])}


def measure(cmd: list[str], cwd: Path, extra: dict[str, str] | None = None) -> dict[str, float]:
    """CPU seconds (user + sys, children included), wall seconds and peak RSS (MB) of one command."""
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1", **(extra or {}))
    for k in ("MLFLOW_TRACKING_URI", "SOUNDFLOW_PIPELINE_KEY", "SOUNDFLOW_WORKSPACE_LOCK"):
        env.pop(k, None)
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, ru = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    proc.stderr and proc.stderr.close()
    return {"cpu": ru.ru_utime + ru.ru_stime, "wall": wall, "rss_mb": ru.ru_maxrss / 1024, "rc": proc.returncode,
            "err": err[-400:]}  # fmt: skip


def prepare(tree: Path, dst: Path) -> Path:
    """A scratch copy of ``tree`` with TINY params and the BUILT stages run, by ``tree``'s own code."""
    code = (
        "import sys; sys.path.insert(0, '.'); from pathlib import Path; "
        "from soundflow.pipeline.workspace import copy_project, TINY; "
        f"copy_project(Path('.'), Path({str(dst)!r}), TINY)"
    )
    subprocess.run([str(tree / ".venv/bin/python"), "-c", code], cwd=tree, check=True, capture_output=True)
    subprocess.run([str(dst / ".venv/bin/dvc"), "repro", *BUILT], cwd=dst, check=True, capture_output=True)
    return dst


def stage_cost(copy: Path, name: str, deferred: bool) -> dict[str, float]:
    """One stage process, as `soundflow repro` runs it (``deferred``: tracking journalled) or a bare `dvc repro`."""
    out = copy / ".stage_cpu"
    out.unlink(missing_ok=True)
    extra = {"SOUNDFLOW_TRACKING_DEFERRED": "1"} if deferred else {}
    m = measure([str(copy / ".venv/bin/python"), "-c", STAGE, name, str(out)], copy, extra)
    work = float(out.read_text()) if out.is_file() else float("nan")
    return {**m, "work": work, "fixed": m["cpu"] - work}


def cases(copy: Path) -> dict[str, list[str]]:
    py = str(copy / ".venv/bin/python")
    return {
        "no-op `dvc repro` (3 stages)": [str(copy / ".venv/bin/dvc"), "repro", *BUILT],
        "cached `soundflow run` (3 stages)": [py, "-m", "soundflow", "run", *BUILT],
        "`soundflow list`": [py, "-m", "soundflow", "list"],
        "`soundflow --help`": [py, "-m", "soundflow", "--help"],
        "`soundflow params`": [py, "-m", "soundflow", "params"],
        "a typo (`soundflow lsit`)": [py, "-m", "soundflow", "lsit"],
    }


def run(base: str, rounds: int) -> dict[str, dict[str, dict[str, float]]]:
    work = Path(tempfile.mkdtemp(prefix="bench-overhead-"))
    try:
        wt = work / "base-tree"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(wt), base], check=True,
                       capture_output=True)  # fmt: skip
        (wt / ".venv").symlink_to(ROOT / ".venv")
        copies = {"before": prepare(wt, work / "before"), "after": prepare(ROOT, work / "after")}
        # the first `soundflow run` records Prefect's cache entries; the runs measured find them
        for copy in copies.values():
            measure(cases(copy)["cached `soundflow run` (3 stages)"], copy)
        res: dict[str, dict[str, dict[str, float]]] = {}
        res["lock"] = {"before": lock_rewrite(wt, work / "before"), "after": lock_rewrite(ROOT, work / "after")}
        for _ in range(rounds):
            for side, copy in copies.items():
                for label, cmd in cases(copy).items():
                    _keep_min(res, label, side, measure(cmd, copy))
                for name, how in STAGE_RUNS:
                    _keep_min(res, f"stage {name} {how}", side, stage_cost(copy, name, how == DEFERRED))
        return res
    finally:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(work / "base-tree")],
                       capture_output=True)  # fmt: skip
        shutil.rmtree(work, ignore_errors=True)


def _keep_min(res: dict, label: str, side: str, m: dict[str, float]) -> None:
    """The round with the least CPU: the others measured the load of the machine as well."""
    old = res.setdefault(label, {}).get(side)
    if old is None or m["cpu"] < old["cpu"]:
        res[label][side] = m


def table(res: dict[str, dict[str, dict[str, float]]]) -> str:
    rows = [
        "| item | before CPU s | after CPU s | before wall s | after wall s |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, how in STAGE_RUNS:
        b, a = res[f"stage {name} {how}"]["before"], res[f"stage {name} {how}"]["after"]
        rows.append(f"| fixed cost of stage {name} {how} (its own work excluded) | {b['fixed']:.2f} | "
                    f"{a['fixed']:.2f} | | |")  # fmt: skip
    for name, how in STAGE_RUNS:
        b, a = res[f"stage {name} {how}"]["before"], res[f"stage {name} {how}"]["after"]
        rows.append(f"| peak RSS of stage {name} {how} (MB) | {b['rss_mb']:.0f} | {a['rss_mb']:.0f} | | |")
    b, a = res["lock"]["before"], res["lock"]["after"]
    rows.append(f"| DVC's rewrite of the whole DAG's dvc.lock after each stage ({b['entries']} -> {a['entries']} "
                f"entries, {b['kb']:.0f} -> {a['kb']:.0f} KB) | {b['cpu']:.2f} | {a['cpu']:.2f} | | |")  # fmt: skip
    for label, sides in res.items():
        if label != "lock" and not label.startswith("stage "):
            b, a = sides["before"], sides["after"]
            rows.append(f"| {label} | {b['cpu']:.2f} | {a['cpu']:.2f} | {b['wall']:.2f} | {a['wall']:.2f} |")
    return "\n".join(rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", default="HEAD", help="the commit measured as 'before' (default HEAD)")
    ap.add_argument("--rounds", type=int, default=1, help="the least CPU of N rounds is kept (default 1)")
    ap.add_argument("--out", default=str(ROOT / "reports" / "overhead"), help="writes OUT.md and OUT.json")
    args = ap.parse_args()
    base = subprocess.run(["git", "-C", str(ROOT), "rev-parse", args.base], capture_output=True, text=True,
                          check=True).stdout.strip()  # fmt: skip
    res = run(base, args.rounds)
    text = f"Base (before): {base}; after: the working tree. CPU s = user + sys, children included; " \
           f"least of {args.rounds} rounds. Loaded 2-core machine.\n\n{table(res)}\n"  # fmt: skip
    print(text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out + ".md").write_text(text)
    Path(args.out + ".json").write_text(json.dumps({"base": base, "results": res}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
