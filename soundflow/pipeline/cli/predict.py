"""The trained models on new files: ``predict`` (AED or YAMNet classes of audio files), ``segment`` (ERFNet label
maps of images) and ``transcode-audio`` (a wav's Mel and each transcoder's Mel back to audio)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import SimpleNamespace

import click

from soundflow.errors import UserError
from soundflow.pipeline.cli.command import command, project_root

DEVICES = click.Choice(["auto", "cpu", "cuda"])


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


@command(
    "predict",
    writes=False,
    help="top classes of audio files from the trained AED model (or YAMNet); a file must be at least "
    "0.1 s long and sampled at 8000 Hz or more (others are skipped and listed)",
)
@click.argument("files", nargs=-1, required=True)
@click.option(
    "--model",
    "--checkpoint",  # the older name, kept: both take any of the forms below
    "model",
    default="aed",
    metavar="MODEL",
    help="aed: the pipeline's trained model (the aed_train stage's output, default); a registered version, "
    "models:/NAME@ALIAS or models:/NAME/VERSION; a checkpoint file; yamnet: Google's pretrained YAMNet "
    "(521 AudioSet classes)",
)
@click.option(
    "--weights",
    help="YAMNet's yamnet_weights.npz (default: data/raw/yamnet/yamnet_weights.npz; "
    "e.g. ../shared/data/yamnet/yamnet_weights.npz)",
)
@click.option("--class-map", help="YAMNet's yamnet_class_map.csv (default: the one beside --weights)")
@click.option("--results", type=int, help="how many classes to show (default: aed.predict.results; yamnet: 5)")
@click.option("--confidence", type=float, help="minimum pooled probability (default: aed.predict.confidence)")
@click.option("--overlap", type=float, help="seconds of overlap between chunks (default: aed.predict.overlap)")
def cmd_predict(args: SimpleNamespace) -> int:
    if args.model == "yamnet":
        return _predict_yamnet(args)
    from soundflow.pipeline.config import load_params
    from tasks.aed.predict import Predictor, check_options

    root = project_root()
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


def _predict_yamnet(args: SimpleNamespace) -> int:
    """Google's pretrained YAMNet: AudioSet top classes of each file (tasks/aed/yamnet_predict.py)."""
    from models.checkpoint_format import CheckpointError
    from tasks.aed.predict import check_options
    from tasks.aed.yamnet_predict import DEFAULT_WEIGHTS, load_predictor, predict_file

    weights = Path(args.weights) if args.weights else project_root() / DEFAULT_WEIGHTS
    try:
        model, names = load_predictor(weights, args.class_map)
    except (CheckpointError, ValueError) as err:
        hint = "" if weights.is_file() else " (pass --weights PATH/yamnet_weights.npz)"
        print(f"soundflow: {err}{hint}", file=sys.stderr)
        return 2
    results = args.results if args.results is not None else 5
    check_options(results, 0.0)
    return _each_file("predict", args.files, lambda f: predict_file(model, names, f, results))


@command(
    "segment",
    writes=False,  # only its own --out, which no stage owns
    help="label maps and colour overlays for a folder of images (trained ERFNet)",
)
@click.option("--test-images", required=True, help="folder of images (searched recursively)")
@click.option("--test-images-type", type=click.Choice(["png", "jpg"]), default="png", show_default=True)
@click.option("--out", default="outputs/seg/segment", help="output folder")
@click.option("--checkpoint", help="model checkpoint or models:/NAME@ALIAS (default: the seg_train stage's output)")
def cmd_segment(args: SimpleNamespace) -> int:
    from flows.workflows.image_to_soundscape import SEG_MODEL
    from soundflow.inputs import SkipList
    from soundflow.pipeline.config import load_params
    from tasks.segmentation.predict import predict_folder

    root = project_root()
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


@command(
    "transcode-audio",
    writes=False,  # only its own --out, which no stage owns
    help="audio back from spectra: a wav's true Mel and each transcoder's Mel inverted by Griffin-Lim",
)
@click.argument("files", nargs=-1, required=True)
@click.option("--out", default="outputs/transcoder/transcode_audio", help="output folder")
@click.option("--cnn-mels", help="CNN-mels checkpoint (default: the transcoder_cnn_mels stage's output)")
@click.option("--cnn-logits", help="CNN-logits checkpoint (default: the transcoder_cnn_logits stage's output)")
@click.option("--device", type=DEVICES, help="default: transcoder.device")
def cmd_transcode_audio(args: SimpleNamespace) -> int:
    from flows.workflows.transcoder import TRANSCODER_CNN_LOGITS, TRANSCODER_CNN_MELS
    from soundflow.devices import pick_device
    from soundflow.pipeline.config import load_params
    from tasks.transcoder.audio import audio_from_spectra
    from tasks.transcoder.conditions import Transcoders
    from tasks.transcoder.pairs import MEL_FOR_TEACHER

    root = project_root()
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
