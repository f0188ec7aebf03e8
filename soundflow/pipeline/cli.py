"""``soundflow``: run, inspect and use the pipeline.

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

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
import subprocess
import sys
import time
import traceback
import uuid
from pathlib import Path

from soundflow import env
from soundflow.errors import UserError


def _root() -> Path:
    root = env.find_root()
    env.configure(root)
    return root


def cmd_params(args: argparse.Namespace) -> int:
    from soundflow.pipeline.config import PARAMS_FILE, apply_overrides, read_overrides
    from soundflow.pipeline.params_check import pending_checks, validate

    root = _root()
    for file in args.apply or ():  # each file's values set in params.yaml, as `dvc exp run -S` per key
        overrides = read_overrides(Path(file))
        apply_overrides(root / PARAMS_FILE, overrides, Path(file))
        print(f"params.yaml: {len(overrides)} value(s) set from {file}")
    params = validate(root)  # the schema, the data locations the user brings, the parameters that must fit the data
    for note in pending_checks(params, root):
        print(f"params.yaml: {note}")
    print("params.yaml: valid")
    return 0


def cmd_reproduce(args: argparse.Namespace) -> int:
    from soundflow.pipeline import reproduce

    root = _root()
    plan = reproduce.plan(root, args.workflow)  # the set validated, its data checked, before DVC starts
    for note in plan.notes:
        print(f"soundflow reproduce: {note}", file=sys.stderr)
    if args.dry_run:
        print(shlex.join(plan.command(args.name)))
        return 0
    return reproduce.run(root, plan, args.name)


def cmd_dvc_yaml(args: argparse.Namespace) -> int:
    from soundflow.pipeline import dag

    root = _root()
    path = root / dag.DVC_YAML
    if args.check:
        if not path.is_file() or path.read_text() != dag.render_dvc_yaml():
            print(
                f"{path} is out of date with the stages of flows/workflows/: run `soundflow dvc-yaml`", file=sys.stderr
            )
            return 1
        print(f"{path}: matches the stages of flows/workflows/")
        return 0
    dag.write_dvc_yaml(root)
    print(f"wrote {path}")
    return 0


def _sync_dvc_yaml(root: Path) -> None:
    from soundflow.pipeline import dag

    if dag.sync_dvc_yaml(root):  # code deps follow imports: an edit of the code can change them
        print(f"soundflow: regenerated {dag.DVC_YAML} from flows/workflows/ (the stages' code changed)")


def cmd_stage(args: argparse.Namespace) -> int:
    from soundflow.pipeline import runner
    from soundflow.pipeline.stages import get_stage

    try:
        stage = get_stage(args.name)
    except KeyError as err:  # a typo in a command line, not a bug: no traceback
        print(f"soundflow: {err.args[0]}", file=sys.stderr)
        return 2
    if args.code is not None and args.code != stage.run_digest:
        # dvc.yaml was generated before the stage's code in soundflow/pipeline/stages.py changed: DVC's record of what
        # ran would be wrong, and other stages' code dependencies may be stale too
        print(
            f"soundflow: dvc.yaml is out of date with soundflow/pipeline/stages.py (stage {args.name}'s code changed): "
            "run `soundflow dvc-yaml`, or `soundflow repro`, which regenerates it",
            file=sys.stderr,
        )
        return 2
    try:
        runner.execute(args.name, _root(), engine="dvc")
    except UserError as err:  # one line at the boundary; the traceback is in the stage's MLflow log
        raise StageFailed(args.name, err) from err
    args.exit_now = True  # done and recorded: the process may skip the interpreter's teardown (run_module)
    return 0


class StageFailed(UserError):
    """A stage that stopped on a user's mistake: its message and exit code, with the stage named."""

    def __init__(self, stage: str, err: UserError) -> None:
        super().__init__(f"stage {stage} failed: {err}")
        self.exit_code = err.exit_code


def cmd_list(args: argparse.Namespace) -> int:
    from soundflow.pipeline import dag, dvc_state
    from soundflow.pipeline.config import load_params, read_params_yaml
    from soundflow.pipeline.stages import get_stage

    root = _root()
    load_params(root)
    order = dag.topological_order(read_params_yaml(root / "params.yaml"))
    width = max(map(len, order))
    with dvc_state.open_repo(root) as repo:
        found = dvc_state.statuses(repo, order)  # one DVC status call for the DAG
        for name in order:
            reasons = found[name]
            state = "up to date" if not reasons else "stale: " + "; ".join(reasons)
            print(f"{name:<{width}}  {state}")
            if args.verbose:
                print(f"{'':<{width}}  {get_stage(name).desc}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    root = _root()
    from soundflow.pipeline.params_check import validate
    from soundflow.pipeline.stages import flow_name, get_stage

    flow = flow_name(args.flow) if args.flow else None  # a typo is one line, before Prefect starts
    for name in args.stages:
        get_stage(name)  # likewise, with the likeliest name
    validate(root)  # a bad params.yaml or data location is reported before Prefect starts
    _sync_dvc_yaml(root)
    t0 = time.perf_counter()
    shortcut = not (args.force or args.always_prefect or os.environ.get("PREFECT_API_URL"))
    if shortcut and (done := _all_up_to_date(root, flow, args.stages)):
        print(
            f"soundflow run: {len(done)} stage(s), 0 recomputed: DVC says all are up to date, and with no Prefect "
            f"server set none was started for a run with nothing to do, {time.perf_counter() - t0:.1f} s"
        )
        return 0
    from flows.pipeline import FLOWS, pipeline

    try:
        if flow and flow != "soundflow":
            results = FLOWS[flow](root=str(root), force=args.force)
        else:
            results = pipeline(root=str(root), stages=args.stages or None, force=args.force)
    except UserError:
        raise  # the boundary says it in one line
    except Exception as err:  # Prefect has logged the traceback; end with the one line that matters
        print(f"soundflow run failed: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    ran = [n for n, r in results.items() if r["ran"]]
    print(
        f"soundflow run: {len(results)} stage(s), {len(ran)} recomputed"
        f"{' (' + ', '.join(ran) + ')' if ran else ''}, {time.perf_counter() - t0:.1f} s"
    )
    return 0


def _all_up_to_date(root: Path, flow: str | None, stages: list[str]) -> list[str]:
    """The stages a run would consider, if DVC says every one is up to date (one status call); else [].

    A run with nothing to do then costs what `dvc status` costs: Prefect's temporary server (about 8 CPU s)
    would only record that nothing ran, in a database no UI reads. With PREFECT_API_URL set the flow runs as
    usual, so the server's UI shows the cached run."""
    from soundflow.pipeline import dag, dvc_state
    from soundflow.pipeline.config import read_params_yaml
    from soundflow.pipeline.stages import workflow

    targets = [s.name for s in workflow(flow).stages] if flow and flow != "soundflow" else stages
    names = dag.topological_order(read_params_yaml(root / "params.yaml"), targets or None)
    with dvc_state.open_repo(root) as repo:
        stale = [n for n, why in dvc_state.statuses(repo, names).items() if why]
    return [] if stale else names


def cmd_repro(args: argparse.Namespace) -> int:
    root = _root()
    from soundflow.pipeline.params_check import validate
    from soundflow.pipeline.stages import get_stage

    for name in args.stages:
        get_stage(name)  # a typo is one line with the likeliest name, not DVC's error
    validate(root)  # before dvc deletes the outputs of a stage that would then refuse its parameters
    from soundflow.pipeline.dvc_state import check_stage_interpreter

    check_stage_interpreter(root)  # likewise: the python the stage commands name must exist
    _sync_dvc_yaml(root)
    os.environ.setdefault("SOUNDFLOW_PIPELINE_KEY", f"dvc-{uuid.uuid4().hex}")
    from soundflow.pipeline.tracking import DEFER_ENV

    # dvc inherits the workspace-lock token main() exported, so its `soundflow stage` children proceed; they keep
    # their tracking calls in the journal, sent below by this one process (MLflow imported once, not per stage)
    dvc = Path(sys.executable).with_name("dvc")
    argv = [str(dvc) if dvc.exists() else "dvc", "repro", *args.stages]
    code = subprocess.call(argv, cwd=root, env={**os.environ, DEFER_ENV: "1"})
    _send_deferred(root)
    return dvc_exit_code(code)


def dvc_exit_code(code: int) -> int:
    """``dvc repro``'s status as a shell reads it: 0 done, 1 failed (DVC itself exits 255), 128+N killed by N."""
    if code < 0:
        return 128 - code
    return 0 if code == 0 else 1


def _send_deferred(root: Path) -> None:
    """The stages' tracking calls kept in the journal, sent now (or kept for `soundflow sync` if MLflow is away)."""
    from soundflow.pipeline.config import load_params
    from soundflow.pipeline.ops.sync import Journal
    from soundflow.pipeline.tracking import Tracker, tag_stage_hashes

    if Journal(root).pending():
        tag_stage_hashes(root)
        Tracker(root, load_params(root).tracking.experiment)  # sends what is pending on creation


def _checkpoint(value: str, root: Path) -> Path:
    """A checkpoint path, or a registry URI (models:/NAME@ALIAS, models:/NAME/VERSION) downloaded to a file."""
    from soundflow.pipeline.ops.model_uri import resolve_checkpoint

    try:
        return resolve_checkpoint(value, root)
    except ValueError as err:  # an unknown model or alias: say which, no traceback
        raise FileNotFoundError(str(err)) from None


class UnknownModel(UserError, FileNotFoundError):
    """``predict --model`` names neither a model of its own, a registry URI nor a checkpoint file."""


def _aed_checkpoint(model: str, root: Path) -> Path:
    """The checkpoint ``--model`` names: ``aed`` (the aed_train stage's output), a models:/ URI or a file."""
    from flows.workflows.aed import AED_MODEL
    from soundflow.pipeline.ops.model_uri import is_model_uri

    if model == "aed":
        return root / AED_MODEL
    looks_like_a_path = os.sep in model or Path(model).suffix in (".pt", ".pth")  # the loader says what is wrong
    if not is_model_uri(model) and not looks_like_a_path and not Path(model).exists():
        raise UnknownModel(
            f"--model {model}: no such checkpoint file; use aed, yamnet, models:/NAME@ALIAS, models:/NAME/VERSION "
            "or a checkpoint's path"
        )
    return _checkpoint(model, root)


def cmd_predict(args: argparse.Namespace) -> int:
    if args.model == "yamnet":
        return _predict_yamnet(args)
    from soundflow.pipeline.config import load_params
    from tasks.aed.predict import Predictor, check_options

    root = _root()
    checkpoint = _aed_checkpoint(args.model, root)  # a wrong name is refused before anything loads
    p = load_params(root).aed.predict
    results = args.results if args.results is not None else p.results
    confidence = args.confidence if args.confidence is not None else p.confidence
    check_options(results, confidence)
    predictor = Predictor(checkpoint, args.overlap if args.overlap is not None else p.overlap)
    return _each_file("predict", args.files, lambda f: predictor.predict(f, results, confidence))


def _each_file(command: str, files: list[str], predict) -> int:
    """Print each file's prediction; list the unusable ones after (exit 1), or fail in one line if all are."""
    from soundflow.inputs import SkipList

    skips = SkipList("audio files")
    for f in files:
        pred = skips.attempt(lambda f=f: predict(Path(f)))
        if pred is not None:
            print(pred.render())
    skips.check()
    return _report_skipped(command, skips)


def _report_skipped(command: str, skips) -> int:
    for line in skips.lines():
        print(f"soundflow {command}: {line}" if not line.startswith(" ") else line, file=sys.stderr)
    return 1 if skips.errors else 0


def _predict_yamnet(args: argparse.Namespace) -> int:
    """Google's pretrained YAMNet: AudioSet top classes of each file (tasks/aed/yamnet_predict.py)."""
    from models.checkpoint_format import CheckpointError
    from tasks.aed.predict import check_options
    from tasks.aed.yamnet_predict import DEFAULT_WEIGHTS, load_predictor, predict_file

    weights = Path(args.weights) if args.weights else _root() / DEFAULT_WEIGHTS
    try:
        model, names = load_predictor(weights, args.class_map)
    except (CheckpointError, ValueError) as err:
        hint = "" if weights.is_file() else " (pass --weights PATH/yamnet_weights.npz)"
        print(f"soundflow: {err}{hint}", file=sys.stderr)
        return 2
    results = args.results if args.results is not None else 5
    check_options(results, 0.0)
    return _each_file("predict", args.files, lambda f: predict_file(model, names, f, results))


def cmd_segment(args: argparse.Namespace) -> int:
    from flows.workflows.image_to_soundscape import SEG_MODEL
    from soundflow.inputs import SkipList
    from soundflow.pipeline.config import load_params
    from tasks.segmentation.predict import predict_folder

    root = _root()
    p = load_params(root).seg
    out = Path(args.out)
    skips = SkipList("images")
    table = predict_folder(
        _checkpoint(args.checkpoint, root) if args.checkpoint else root / SEG_MODEL,
        Path(args.test_images),
        out,
        image_type=args.test_images_type,
        size=p.data.image_size,
        batch_size=p.predict.batch_size,
        device=p.train.device,
        progress=True,
        skips=skips,
    )
    print(f"{len(table)} image(s): label maps, <image>_pred.jpg overlays and fractions.csv in {out}")
    return _report_skipped("segment", skips)


def cmd_features(args: argparse.Namespace) -> int:
    from soundflow.devices import pick_device
    from soundflow.pipeline.config import load_params
    from tasks.features import sets
    from tasks.features.representations import make_representation

    root = _root()
    source = Path(args.source).resolve()
    out = Path(args.out).resolve()
    try:
        if source.is_file() and source.suffix == ".csv":
            table = sets.metadata_table(source, root)
        elif args.layout == "cityscapes":
            table = sets.image_folder_table(source, root)
        else:
            table = sets.labelled_audio_table(source, args.layout, root)
        rep = make_representation(
            args.representation, clip_seconds=args.clip_seconds, aed_features=load_params(root).aed.features
        )
        sets.check_modality(sets.FeatureSet(source.name, args.representation), table)
        summary = sets.extract_set(
            table,
            out,
            rep,
            root=root,
            shard_size=args.shard_size,
            workers=args.workers,
            device=str(pick_device(args.device)),
            max_bad_fraction=args.max_bad_fraction,
            runner="dask" if args.dask else "local",
        )
    except ValueError as err:  # bad input (a CSV without paths, an unknown representation), not a bug
        if isinstance(err, UserError):
            raise
        raise UserError(str(err)) from err
    print(
        f"{args.representation}: {summary['n_clips']} input(s), {summary['n_items']} item(s), "
        f"{summary['n_skipped']} skipped (listed in {out / 'skipped.csv'}) -> {out}"
    )
    return 0


def cmd_transcode_audio(args: argparse.Namespace) -> int:
    from flows.workflows.transcoder import TRANSCODER_CNN_LOGITS, TRANSCODER_CNN_MELS
    from soundflow.devices import pick_device
    from soundflow.pipeline.config import load_params
    from tasks.transcoder.audio import audio_from_spectra
    from tasks.transcoder.conditions import Transcoders
    from tasks.transcoder.pairs import MEL_FOR_TEACHER

    root = _root()
    p = load_params(root).transcoder
    device = pick_device(args.device or p.device)
    mels = Path(args.cnn_mels) if args.cnn_mels else root / TRANSCODER_CNN_MELS
    logits = Path(args.cnn_logits) if args.cnn_logits else root / TRANSCODER_CNN_LOGITS
    transcoders = Transcoders.load(MEL_FOR_TEACHER[p.teacher.name], mels, logits, device)
    status = 0
    for f in args.files:
        try:
            written = audio_from_spectra(
                Path(f), Path(args.out), MEL_FOR_TEACHER[p.teacher.name], transcoders, p.audio.n_iter, device
            )
            print(f"{f}: " + ", ".join(w.name for w in written))
        except ValueError as err:  # AudioError included: say which file and why, go on with the others
            print(f"{err}", file=sys.stderr)
            status = 1
    return status


def cmd_datasets(args: argparse.Namespace) -> int:
    from flows.workflows.data import DATASETS
    from tasks.datasets import registry

    root = _root()
    places = {"data/raw": root / "data" / "raw", DATASETS: root / DATASETS}  # `soundflow download`, the DAG stage
    rows = []
    for name in registry.available():
        info = registry.get(name)
        known = [f.size for f in info.files]
        size = f"{sum(known) / 1e9:.2f} GB" if known and all(k is not None for k in known) else "?"
        where = [label for label, folder in places.items() if registry.is_present(name, folder)]
        rows.append(
            (name, size, info.licence, ("in " + ", ".join(where)) if where else "no", " (login)" if info.login else "")
        )
    w = max(len(r[0]) for r in rows)
    pw = max(7, *(len(r[3]) for r in rows))
    print(f"{'dataset':<{w}}  {'size':>9}  {'present':<{pw}}  licence")
    for name, size, licence, present, login in rows:
        print(f"{name:<{w}}  {size:>9}  {present:<{pw}}  {licence}{login}")
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    from tasks.datasets import registry
    from tasks.datasets.fetch import fetch_dataset

    raw = _root() / "data" / "raw"
    folder = fetch_dataset(args.name, raw, base_url=args.base_url)
    table = registry.prepare(args.name, raw)
    print(f"{args.name}: in {folder}; metadata table {table}")
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    import importlib

    root = _root()
    module = importlib.import_module(
        f"soundflow.pipeline.export.{args.engine}"
    )  # argo (hera) or kfp: heavy, loaded on demand
    text = module.render(root, image=args.image, remote=args.remote)
    if args.out is None:
        sys.stdout.write(text)
        return 0
    from soundflow.io import write_text

    write_text(Path(args.out), text)
    print(f"wrote {args.out}: the stage DAG for {args.engine} (image {args.image})", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="soundflow", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    from soundflow import __version__

    ap.add_argument("--version", action="version", version=f"soundflow {__version__}")
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="run the DAG (or STAGEs and their stale upstream) as a Prefect flow")
    p.add_argument("stages", nargs="*")
    p.add_argument(
        "--force",
        action="store_true",
        help="recompute the named stages (or every stage of the DAG or --flow, if none are named) even if up to "
        "date; the stages upstream of them run only if stale",
    )
    p.add_argument("--flow", help="run one workflow's flow (a name `soundflow list` shows); soundflow: the whole DAG")
    p.add_argument(
        "--always-prefect",
        action="store_true",
        help="start the flow even when DVC says nothing is stale and no Prefect server is set (a temporary one "
        "then records the cached run)",
    )
    p.set_defaults(fn=cmd_run, writes=True)
    p = sub.add_parser("repro", help="run `dvc repro` with all stages logged under one MLflow parent run")
    p.add_argument("stages", nargs="*")
    p.set_defaults(fn=cmd_repro, writes=True)
    p = sub.add_parser("list", help="every stage with its status")
    p.add_argument("-v", "--verbose", action="store_true")
    p.set_defaults(fn=cmd_list, writes=False)
    p = sub.add_parser("stage", help="run one stage now (what dvc.yaml's commands call)")
    p.add_argument("name")
    p.add_argument("--code", help="digest of the stage's code in stages.py when dvc.yaml was generated (checked)")
    p.set_defaults(fn=cmd_stage, writes=True)
    p = sub.add_parser(
        "predict",
        help="top classes of audio files from the trained AED model (or YAMNet); a file must be at least "
        "0.1 s long and sampled at 8000 Hz or more (others are skipped and listed)",
    )
    p.add_argument("files", nargs="+")
    p.add_argument(
        "--model",
        "--checkpoint",  # the older name, kept: both take any of the forms below
        dest="model",
        default="aed",
        metavar="MODEL",
        help="aed: the pipeline's trained model (the aed_train stage's output, default); a registered version, "
        "models:/NAME@ALIAS or models:/NAME/VERSION; a checkpoint file; yamnet: Google's pretrained YAMNet "
        "(521 AudioSet classes)",
    )
    p.add_argument(
        "--weights",
        help="YAMNet's yamnet_weights.npz (default: data/raw/yamnet/yamnet_weights.npz; "
        "e.g. ../shared/data/yamnet/yamnet_weights.npz)",
    )
    p.add_argument("--class-map", help="YAMNet's yamnet_class_map.csv (default: the one beside --weights)")
    p.add_argument("--results", type=int, help="how many classes to show (default: aed.predict.results; yamnet: 5)")
    p.add_argument("--confidence", type=float, help="minimum pooled probability (default: aed.predict.confidence)")
    p.add_argument("--overlap", type=float, help="seconds of overlap between chunks (default: aed.predict.overlap)")
    p.set_defaults(fn=cmd_predict, writes=False)
    p = sub.add_parser(
        "features",
        help="a feature store of a labelled audio folder, a Cityscapes-layout image folder or a metadata CSV",
    )
    p.add_argument(
        "representation",
        help="logmel_pann | logmel_yamnet | logmel_localisation | logmel_t2a | third_octave | stft_chunks | frames",
    )
    p.add_argument(
        "source", help="a dataset folder, or a CSV with a path column (label/labels/label_path, fold/split optional)"
    )
    p.add_argument(
        "--layout",
        choices=["urbansound8k", "esc50", "cityscapes"],
        default="urbansound8k",
        help="layout of a source folder (default urbansound8k)",
    )
    p.add_argument("--out", required=True, help="store folder (rerunning resumes it)")
    p.add_argument("--clip-seconds", type=float, default=None, help="crop/pad audio to this length")
    p.add_argument("--shard-size", type=int, default=256)
    p.add_argument("--workers", type=int, default=2, help="reading threads")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    p.add_argument("--max-bad-fraction", type=float, default=0.05)
    p.add_argument(
        "--dask",
        action="store_true",
        help="shards as Prefect tasks on Dask ($DASK_SCHEDULER_ADDRESS or a local cluster)",
    )
    p.set_defaults(fn=cmd_features, writes=True)
    p = sub.add_parser("segment", help="label maps and colour overlays for a folder of images (trained ERFNet)")
    p.add_argument("--test-images", required=True, help="folder of images (searched recursively)")
    p.add_argument("--test-images-type", choices=["png", "jpg"], default="png")
    p.add_argument("--out", default="outputs/seg/segment", help="output folder")
    p.add_argument(
        "--checkpoint", help="model checkpoint or models:/NAME@ALIAS (default: the seg_train stage's output)"
    )
    p.set_defaults(fn=cmd_segment, writes=False)  # only its own --out, which no stage owns
    p = sub.add_parser(
        "transcode-audio",
        help="audio back from spectra: a wav's true Mel and each transcoder's Mel inverted by Griffin-Lim",
    )
    p.add_argument("files", nargs="+")
    p.add_argument("--out", default="outputs/transcoder/transcode_audio", help="output folder")
    p.add_argument("--cnn-mels", help="CNN-mels checkpoint (default: the transcoder_cnn_mels stage's output)")
    p.add_argument("--cnn-logits", help="CNN-logits checkpoint (default: the transcoder_cnn_logits stage's output)")
    p.add_argument("--device", choices=["auto", "cpu", "cuda"], help="default: transcoder.device")
    p.set_defaults(fn=cmd_transcode_audio, writes=False)  # only its own --out, which no stage owns
    p = sub.add_parser("datasets", help="the dataset registry: name, size, licence, present locally")
    p.set_defaults(fn=cmd_datasets, writes=False)
    p = sub.add_parser("download", help="fetch, verify, extract and prepare one registered dataset into data/raw")
    p.add_argument("name")
    p.add_argument("--base-url", help="a mirror to fetch from instead of the published host")
    p.set_defaults(fn=cmd_download, writes=True)
    p = sub.add_parser("dvc-yaml", help="write dvc.yaml from the stage declarations")
    p.add_argument("--check", action="store_true", help="only check that dvc.yaml is current")
    p.set_defaults(fn=cmd_dvc_yaml, writes=lambda a: not a.check)  # writing dvc.yaml under a run mixes DAGs
    p = sub.add_parser("params", help="validate params.yaml (after setting the values of --apply files)")
    p.add_argument(
        "--apply", action="append", metavar="FILE", help="YAML of dotted keys to set in params.yaml first (repeatable)"
    )
    p.set_defaults(fn=cmd_params, writes=lambda a: bool(a.apply))  # params.yaml must not change under a run
    p = sub.add_parser(
        "reproduce", help="a workflow at its paper's sizes on the real datasets (configs/paper/), as a DVC experiment"
    )
    p.add_argument("workflow", help="a flow of flows/pipeline.py, or aed, localisation, transcoder")
    p.add_argument("--dry-run", action="store_true", help="validate, then print the dvc exp run command only")
    p.add_argument("--name", help="the experiment's name (default paper-<workflow>)")
    p.set_defaults(fn=cmd_reproduce, writes=lambda a: not a.dry_run)
    _register_operations(sub)
    p = sub.add_parser("export", help="the stage DAG as an Argo Workflow or a Kubeflow Pipelines v2 pipeline (YAML)")
    p.add_argument("engine", choices=["argo", "kfp"])
    p.add_argument("--out", help="file to write (default: standard output)")
    p.add_argument("--image", default="soundflow:latest", help="image of every step (default soundflow:latest)")
    p.add_argument("--remote", help="DVC remote to pull from and push to (default: the default remote of .dvc/config)")
    p.set_defaults(fn=cmd_export, writes=False)
    _add_verbose(ap, sub)
    return ap


def _register_operations(sub: argparse._SubParsersAction) -> None:
    """Operations commands, each module adding its own subcommands (pipeline/ops/, pipeline/export/)."""
    from soundflow.pipeline.ops import prefect_cli, server_cli, sync_cli
    from soundflow.pipeline.ops.compare_cli import register as register_compare
    from soundflow.pipeline.ops.registry_cli import register as register_registry

    server_cli.register(sub)
    sync_cli.register(sub)
    prefect_cli.register(sub)
    register_compare(sub)
    register_registry(sub)


def _workspace(args: argparse.Namespace, argv: list[str]) -> contextlib.AbstractContextManager[object]:
    """The workspace lock for a command that writes (``writes``, declared next to each command), else nothing."""
    if not (args.writes(args) if callable(args.writes) else args.writes):
        return contextlib.nullcontext()
    if env.launch_rank() != 0:  # a torchrun rank other than 0 works under rank 0's lock and writes nothing
        return contextlib.nullcontext()
    from soundflow.pipeline import workspace_lock

    return workspace_lock.hold(_root(), "soundflow " + shlex.join(argv))


VERBOSE_ENV = "SOUNDFLOW_VERBOSE"  # set (e.g. under `dvc repro`, whose stage commands are fixed): tracebacks shown
VERBOSE_HELP = f"on an error, show its traceback too (or set {VERBOSE_ENV}=1)"


def _add_verbose(ap: argparse.ArgumentParser, sub: argparse._SubParsersAction) -> None:
    """``--verbose`` before the command and after it, on every command (``list`` keeps its own -v/--verbose)."""
    ap.add_argument("-v", "--verbose", action="store_true", dest="traceback", help=VERBOSE_HELP)
    for p in sub.choices.values():
        if "--verbose" not in p._option_string_actions:
            # SUPPRESS: a command's default must not undo `soundflow --verbose COMMAND`
            p.add_argument(
                "--verbose", action="store_true", dest="traceback", default=argparse.SUPPRESS, help=VERBOSE_HELP
            )


def _verbose(args: argparse.Namespace) -> bool:
    return bool(args.traceback or getattr(args, "verbose", False) or os.environ.get(VERBOSE_ENV, "") not in ("", "0"))


def _fail(err: BaseException, args: argparse.Namespace, code: int) -> int:
    """The error boundary's output: the traceback only when asked for, then one line naming the problem."""
    if _verbose(args):
        traceback.print_exception(err, file=sys.stderr)
    print(f"soundflow: {err}", file=sys.stderr)
    return code


def main(argv: list[str] | None = None) -> int:
    return _main(argv)[0]


def _main(argv: list[str] | None) -> tuple[int, bool]:
    """The exit code, and whether the command finished all it had to (its lock released): see run_module."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    try:
        with _workspace(args, argv):  # taken before any work: a refused command has changed nothing
            code = args.fn(args)
        return code, getattr(args, "exit_now", False)
    except UserError as err:  # a mistake the user can fix (soundflow/errors.py): one line, no traceback
        return _fail(err, args, err.exit_code), False
    except FileNotFoundError as err:
        return _fail(err, args, 2), False


def run_module() -> int:
    """``python -m soundflow``: a stage that finished ends its process without the interpreter's teardown
    (soundflow/process_exit.py), which costs a stage process about 2 CPU s; anything else exits as usual."""
    code, done = _main(None)
    if done and os.environ.get("WORLD_SIZE", "1") == "1":  # torchrun ranks tear down their process group
        from soundflow.process_exit import exit_now

        exit_now(code)
    return code
