"""Bad inputs, each through the real entry point: one line naming the file (or key) and the problem.

A catalogue of hostile inputs across audio (``soundflow predict``), images (``soundflow segment`` and the
frame loader), videos, metadata files, parameters, archives and command-line arguments. A command-line
case runs :func:`soundflow.pipeline.cli.main` and must exit non-zero with one line on stderr naming the file and the
problem, and no traceback; a loader case must raise one of the project's :class:`UserError` s whose message
is one line naming the file. Odd but valid inputs (a 1 x 1 image, a 16-bit or palette PNG) must simply work.
A run with some bad items completes and lists them; a run with only bad items fails in one sentence.
"""

from __future__ import annotations

import io
import os
import re
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch
import yaml
from PIL import Image

import models
from soundflow.checkpoints import save_checkpoint
from soundflow.errors import UserError
from soundflow.pipeline import cli
from soundflow.pipeline.config import load_params
from tasks.aed.params import AedModelParams
from tasks.aed.predict import MIN_SAMPLE_RATE, MIN_SECONDS
from tasks.aed.train import _checkpoint as aed_checkpoint_contents
from tasks.datasets.cityscapes import TRAIN_CLASSES
from tasks.datasets.extract import extract
from tasks.datasets.labelled_audio import read_labelled_audio
from tasks.datasets.soundnet_flickr import read_flickr_xml
from tasks.features.frames import load_image
from tasks.features.video import read_video_second, video_seconds
from tasks.text_to_audio.prompts import load_prompts
from tests.helpers.aed import tiny_aed_features
from tests.helpers.video import write_video

RATE = 16000


# ------------------------------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, root: Path) -> Path:
    """A project folder (params.yaml, dvc.yaml) for the commands to run in, apart from the real workspace."""
    d = tmp_path_factory.mktemp("project")
    for name in ("params.yaml", "dvc.yaml"):
        (d / name).write_text((root / name).read_text())
    return d


@pytest.fixture(scope="module")
def aed_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny AED checkpoint with the training's own contents and writer (untrained weights)."""
    p = tiny_aed_features(n_freq_bins=64)
    torch.manual_seed(0)
    model = models.get("aed_cnn")(n_classes=3, input_shape=(64, 64), width=4, dense=32, dropout=0.5)
    index = SimpleNamespace(classes=["dog_bark", "siren", "drilling"], input_shape=[64, 64], params=p.model_dump())
    result = SimpleNamespace(
        best_state=model.state_dict(), best_epoch=1, best_metrics={"val_accuracy": 0.0}, device=torch.device("cpu")
    )
    contents = aed_checkpoint_contents(index, AedModelParams(name="aed_cnn", width=4, dense=32, dropout=0.5))(result)
    return save_checkpoint(tmp_path_factory.mktemp("aed") / "model.pt", contents)


@pytest.fixture(scope="module")
def seg_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An ERFNet checkpoint with the segmentation training's contents (untrained weights)."""
    torch.manual_seed(0)
    kwargs = {"num_classes": len(TRAIN_CLASSES)}
    contents = {
        "model_name": "erfnet",
        "model_kwargs": kwargs,
        "state_dict": models.get("erfnet")(**kwargs).state_dict(),
        "classes": list(TRAIN_CLASSES),
        "input_size": [128, 256],
        "best_epoch": 1,
        "val_miou": 0.0,
        "class_weights": [1.0] * len(TRAIN_CLASSES),
    }
    return save_checkpoint(tmp_path_factory.mktemp("seg") / "model.pt", contents)


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(argv)  # a refused command line too: an exit code, not SystemExit
    out = capsys.readouterr()
    return code, out.out, out.err


def err_lines(err: str) -> list[str]:
    """The lines of stderr without progress bars (tqdm's, on their own line or overwritten by a carriage return)."""
    lines = [line.split("\r")[-1] for line in err.splitlines()]
    return [line for line in lines if line.strip() and not re.search(r"\d+%\|", line)]


def unclear(err: str, names: str, problem: str) -> int:
    """0 when ``err`` is one line naming ``names`` and matching ``problem``, without a traceback; else 1."""
    lines = err_lines(err)
    ok = len(lines) == 1 and names in lines[0] and re.search(problem, lines[0]) and "Traceback" not in err
    return 0 if ok else 1


def one_line_user_error(call: Callable[[], object], names: str, problem: str) -> tuple[int, str]:
    """Run a loader: (0 if it raised a one-line UserError naming ``names`` and matching ``problem``, its message)."""
    try:
        call()
    except UserError as err:
        return unclear(str(err), names, problem), str(err)
    return 1, "accepted"


# ---------------------------------------------------------------------------------------------------- audio
def _wav_bytes(rate: int = RATE, seconds: float = 1.0, channels: int = 1, subtype: str = "PCM_16") -> bytes:
    buf = io.BytesIO()
    data = (0.2 * np.sin(np.arange(round(rate * seconds) * channels) / 7)).reshape(-1, channels)
    sf.write(buf, data.astype(np.float32), rate, subtype=subtype, format="WAV")
    return buf.getvalue()


def _float_wav(values: list[float]) -> Callable[[Path], None]:
    def make(p: Path) -> None:
        data = np.full(RATE, 0.1, np.float32)
        data[100 : 100 + len(values)] = values
        sf.write(p, data, RATE, subtype="FLOAT")

    return make


def _header_with(**fields: int) -> Callable[[Path], None]:
    """A valid 16-bit wav whose fmt/data header fields are rewritten (channels, rate, data size)."""

    def make(p: Path) -> None:
        b = bytearray(_wav_bytes())
        if "channels" in fields:
            b[22:24] = fields["channels"].to_bytes(2, "little")
        if "rate" in fields:
            b[24:28] = fields["rate"].to_bytes(4, "little")
        if "data_size" in fields:
            b[40:44] = fields["data_size"].to_bytes(4, "little")
        p.write_bytes(bytes(b))

    return make


def _symlink_loop(p: Path) -> None:
    other = p.with_name("loop_b.wav")
    p.symlink_to(other)
    other.symlink_to(p)


AUDIO_CASES: dict[str, tuple[Callable[[Path], None], str]] = {
    "empty": (lambda p: p.write_bytes(b""), r"empty file"),
    "truncated header": (lambda p: p.write_bytes(_wav_bytes()[:20]), r"cannot decode"),
    "text renamed .wav": (lambda p: p.write_text("hello, I am not audio\n" * 40), r"cannot decode"),
    "NaN samples": (_float_wav([np.nan]), r"NaN or infinite"),
    "inf samples": (_float_wav([np.inf, -np.inf]), r"NaN or infinite"),
    "0 channels": (_header_with(channels=0), r"cannot decode"),
    "1 Hz": (
        lambda p: p.write_bytes(_wav_bytes(rate=1, seconds=3)),
        rf"1 Hz is below the minimum of {MIN_SAMPLE_RATE}",
    ),
    "4 kHz": (lambda p: p.write_bytes(_wav_bytes(rate=4000)), rf"below the minimum of {MIN_SAMPLE_RATE} Hz"),
    "3 samples": (
        lambda p: p.write_bytes(_wav_bytes(seconds=3 / RATE)),
        rf"shorter than the minimum of {MIN_SECONDS} s",
    ),
    "no samples": (lambda p: p.write_bytes(_wav_bytes(seconds=0)), r"no audio samples"),
    "a directory": (lambda p: p.mkdir(), r"is a directory"),
    "missing": (lambda p: None, r"file not found"),
    "dangling symlink": (lambda p: p.symlink_to(p.with_name("nowhere.wav")), r"file not found"),
    "symlink loop": (_symlink_loop, r"cannot be opened \(Too many levels of symbolic links\)"),
    "fifo": (lambda p: os.mkfifo(p), r"not a regular file"),
    "random bytes .flac": (lambda p: p.write_bytes(np.random.default_rng(0).bytes(4096)), r"cannot decode"),
}


@pytest.mark.parametrize("case", list(AUDIO_CASES))
def test_predict_refuses_a_bad_audio_file_in_one_line(
    board, case: str, project: Path, aed_ckpt: Path, tmp_path: Path, monkeypatch, capsys
) -> None:
    make, problem = AUDIO_CASES[case]
    path = tmp_path / ("bad.flac" if "flac" in case else "bad.wav")
    make(path)
    monkeypatch.chdir(project)
    code, out, err = run_cli(["predict", str(path), "--checkpoint", str(aed_ckpt)], capsys)
    board.tried("bad_input")
    board.harm("unclear", unclear(err, str(path), problem) or int(code == 0 or out != ""))
    assert code != 0 and out == ""
    assert unclear(err, str(path), problem) == 0, err


@pytest.mark.parametrize("case", ["huge declared data size", "3 channels"])
def test_predict_reads_an_odd_but_decodable_wav(board, case, project, aed_ckpt, tmp_path, monkeypatch, capsys) -> None:
    path = tmp_path / "odd.wav"
    if case == "3 channels":
        path.write_bytes(_wav_bytes(channels=3))
    else:
        _header_with(data_size=0xFFFFFFF0)(path)  # libsndfile reads the samples that are there
    monkeypatch.chdir(project)
    code, out, err = run_cli(["predict", str(path), "--checkpoint", str(aed_ckpt), "--confidence", "0"], capsys)
    board.tried("bad_input")
    board.harm("unclear", int(code != 0 or "Traceback" in err))
    assert code == 0 and out.startswith(str(path)) and "1 chunk(s)" in out, err


def test_predict_unreadable_file_names_the_permission(board, project, aed_ckpt, tmp_path, monkeypatch, capsys) -> None:
    path = tmp_path / "locked.wav"
    path.write_bytes(_wav_bytes())
    path.chmod(0)
    if os.access(path, os.R_OK):
        pytest.skip("running as root: permissions do not stop reading")
    monkeypatch.chdir(project)
    code, _, err = run_cli(["predict", str(path), "--checkpoint", str(aed_ckpt)], capsys)
    board.tried("bad_input")
    board.harm("unclear", unclear(err, str(path), "permission denied"))
    assert code != 0 and unclear(err, str(path), "permission denied") == 0, err


def test_predict_with_some_bad_files_classifies_the_rest_and_lists_them(
    board, project, aed_ckpt, tmp_path, monkeypatch, capsys
) -> None:
    good = tmp_path / "good.wav"
    good.write_bytes(_wav_bytes(seconds=4))
    empty, folder = tmp_path / "empty.wav", tmp_path / "folder.wav"
    empty.write_bytes(b"")
    folder.mkdir()
    monkeypatch.chdir(project)
    argv = ["predict", str(empty), str(good), str(folder), "--checkpoint", str(aed_ckpt), "--confidence", "0"]
    code, out, err = run_cli(argv, capsys)
    listed = [f"  {empty}: empty file (0 bytes)", f"  {folder}: is a directory, not a file"]
    board.tried("bad_input", 2)
    board.harm("unclear", sum(line not in err.splitlines() for line in listed))
    assert code == 1 and out.startswith(f"{good}\n  sample rate: 16000 Hz, 2 chunk(s)")
    assert err.splitlines() == ["soundflow predict: 2 of 3 audio files skipped:", *listed]


def test_predict_with_only_bad_files_fails_in_one_sentence(board, project, aed_ckpt, tmp_path, monkeypatch, capsys):
    files = [tmp_path / "a.wav", tmp_path / "b.wav"]
    files[0].write_text("text")
    monkeypatch.chdir(project)
    code, out, err = run_cli(["predict", *map(str, files), "--checkpoint", str(aed_ckpt)], capsys)
    board.tried("bad_input", 2)
    board.harm("unclear", unclear(err, str(files[0]), r"cannot decode .*; none of the 2 audio files is usable"))
    assert code == 2 and out == ""
    assert unclear(err, str(files[0]), r"cannot decode .*; none of the 2 audio files is usable") == 0, err


@pytest.mark.parametrize(
    "argv,names,problem",
    [
        (["--overlap", "5"], "--overlap", r"must be in \[0, 3.0\) seconds, got 5"),
        (["--results", "0"], "--results", r"at least 1, got 0"),
        (["--confidence", "1.5"], "--confidence", r"in \[0, 1\], got 1.5"),
    ],
)
def test_predict_refuses_an_option_out_of_range(
    board, argv, names, problem, project, aed_ckpt, tmp_path, monkeypatch, capsys
):
    wav = tmp_path / "a.wav"
    wav.write_bytes(_wav_bytes())
    monkeypatch.chdir(project)
    code, out, err = run_cli(["predict", str(wav), "--checkpoint", str(aed_ckpt), *argv], capsys)
    board.tried("bad_input")
    board.harm("unclear", unclear(err, names, problem))
    assert code == 2 and out == "" and unclear(err, names, problem) == 0, err


def test_predict_help_states_the_minimums(capsys) -> None:
    code, out, _ = run_cli(["--help"], capsys)
    line = " ".join(out.split())
    assert code == 0 and f"at least {MIN_SECONDS} s long and sampled at {MIN_SAMPLE_RATE} Hz or more" in line


# --------------------------------------------------------------------------------------------------- images
def _good_png_bytes(h: int = 20, w: int = 30) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def _bomb_png(p: Path) -> None:
    """A PNG whose header declares 100000 x 100000 pixels (PIL's decompression-bomb limit refuses it)."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    p.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )


BAD_IMAGES: dict[str, tuple[Callable[[Path], None], str]] = {
    "truncated PNG": (lambda p: p.write_bytes(_good_png_bytes()[:60]), r"cannot decode image"),
    "text as PNG": (lambda p: p.write_text("not an image\n" * 10), r"cannot decode image"),
    "empty PNG": (lambda p: p.write_bytes(b""), r"empty file"),
    "decompression bomb": (_bomb_png, r"cannot decode image \(DecompressionBombError"),
    "a directory named .png": (lambda p: p.mkdir(), r"is a directory"),
}
ODD_IMAGES: dict[str, Callable[[Path], None]] = {
    "1x1": lambda p: Image.fromarray(np.array([[[9, 200, 30]]], np.uint8)).save(p),
    "16-bit grey": lambda p: Image.fromarray((np.arange(600).reshape(20, 30) * 100).astype(np.uint16)).save(p),
    "palette": lambda p: Image.open(io.BytesIO(_good_png_bytes())).convert("P").save(p),
    "grayscale": lambda p: Image.open(io.BytesIO(_good_png_bytes())).convert("L").save(p),
    "RGBA": lambda p: Image.open(io.BytesIO(_good_png_bytes())).convert("RGBA").save(p),
    "JPEG bytes named .png": lambda p: Image.open(io.BytesIO(_good_png_bytes())).save(p, "JPEG"),
}


@pytest.mark.parametrize("case", list(BAD_IMAGES))
def test_frame_loader_refuses_a_bad_image_in_one_line(board, case: str, tmp_path: Path) -> None:
    make, problem = BAD_IMAGES[case]
    path = tmp_path / "bad.png"
    make(path)
    harm, msg = one_line_user_error(lambda: load_image(path), str(path), problem)
    board.tried("bad_input")
    board.harm("unclear", harm)
    assert harm == 0, msg


@pytest.mark.parametrize("case", list(ODD_IMAGES))
def test_frame_loader_reads_an_odd_but_valid_image(board, case: str, tmp_path: Path) -> None:
    path = tmp_path / "odd.png"
    ODD_IMAGES[case](path)
    board.tried("bad_input")
    try:
        rgb = load_image(path)
    except UserError:
        board.harm("unclear", 1)
        raise
    board.harm("unclear", 0)
    assert rgb.dtype == np.uint8 and rgb.ndim == 3 and rgb.shape[2] == 3


def test_segment_skips_bad_images_and_lists_them(board, project, seg_ckpt, tmp_path, monkeypatch, capsys) -> None:
    images, out = tmp_path / "images", tmp_path / "out"
    images.mkdir()
    bad = {}
    for name, (make, _) in BAD_IMAGES.items():
        if name != "a directory named .png":  # a folder is no image file: not listed
            bad[name] = images / f"{name.replace(' ', '_')}.png"
            make(bad[name])
    for name, make in ODD_IMAGES.items():
        make(images / f"odd_{name.replace(' ', '_')}.png")
    monkeypatch.chdir(project)
    code, stdout, err = run_cli(
        ["segment", "--test-images", str(images), "--out", str(out), "--checkpoint", str(seg_ckpt)], capsys
    )
    skipped = pd.read_csv(out / "skipped.csv")
    board.tried("bad_input", len(bad) + len(ODD_IMAGES))
    board.harm("unclear", len(bad) - sum(f"  {p}: " in err for p in bad.values()))
    assert code == 1 and f"{len(ODD_IMAGES)} image(s): label maps" in stdout
    assert sorted(skipped["path"]) == sorted(map(str, bad.values()))
    assert err_lines(err)[0] == f"soundflow segment: {len(bad)} of {len(bad) + len(ODD_IMAGES)} images skipped:"
    assert len(pd.read_csv(out / "fractions.csv")) == len(ODD_IMAGES)
    for name in ODD_IMAGES:
        stem = f"odd_{name.replace(' ', '_')}"
        assert (out / f"{stem}_labels.png").is_file() and (out / f"{stem}_pred.jpg").is_file()


@pytest.mark.parametrize(
    "case,problem",
    [
        ("only bad images", r"cannot decode image.*; none of the 2 images is usable"),
        ("missing folder", "no such folder"),
        ("a file, not a folder", "is not a folder"),
        ("no png in the folder", r"no \*\.png image"),
    ],
)
def test_segment_fails_in_one_sentence(board, case, problem, project, seg_ckpt, tmp_path, monkeypatch, capsys) -> None:
    images, out = tmp_path / "images", tmp_path / "out"
    names = str(images)
    if case == "only bad images":
        images.mkdir()
        (images / "a.png").write_text("text")
        (images / "b.png").write_bytes(_good_png_bytes()[:50])
        names = str(images / "a.png")
    elif case == "a file, not a folder":
        images.write_bytes(_good_png_bytes())
    elif case == "no png in the folder":
        images.mkdir()
        Image.open(io.BytesIO(_good_png_bytes())).save(images / "a.jpg")
    monkeypatch.chdir(project)
    code, stdout, err = run_cli(
        ["segment", "--test-images", str(images), "--out", str(out), "--checkpoint", str(seg_ckpt)], capsys
    )
    board.tried("bad_input")
    board.harm("unclear", unclear(err, names, problem))
    assert code == 2 and unclear(err, names, problem) == 0, err
    assert not (out / "fractions.csv").exists()


# --------------------------------------------------------------------------------------------------- videos
@pytest.fixture(scope="module")
def good_video(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("video") / "good.mkv"
    write_video(path, 3)
    return path


VIDEO_CASES: dict[str, Callable[[Path, Path], None]] = {
    "text as mp4": lambda p, good: p.write_text("not a video\n" * 100),
    "truncated": lambda p, good: p.write_bytes(good.read_bytes()[:300]),
    "empty": lambda p, good: p.write_bytes(b""),
    "audio only": lambda p, good: p.write_bytes(_wav_bytes()),
    "missing": lambda p, good: None,
}


@pytest.mark.parametrize("case", list(VIDEO_CASES))
def test_video_reader_refuses_a_bad_video_in_one_line(board, case: str, good_video: Path, tmp_path: Path) -> None:
    path = tmp_path / "bad.mp4"
    VIDEO_CASES[case](path, good_video)

    def read() -> None:
        video_seconds(path)
        read_video_second(path, 0, 1.0, RATE)

    harm, msg = one_line_user_error(read, str(path), r"not a decodable video|no video stream|not decodable")
    board.tried("bad_input")
    board.harm("unclear", harm)
    assert harm == 0, msg


# ------------------------------------------------------------------------------------------ metadata files
US8K_COLUMNS = "slice_file_name,fsID,start,end,salience,fold,classID,class\n"


def _us8k(text: str | bytes) -> Callable[[Path], Path]:
    def make(d: Path) -> Path:
        (d / "metadata").mkdir(parents=True)
        csv = d / "metadata" / "UrbanSound8K.csv"
        csv.write_bytes(text if isinstance(text, bytes) else text.encode())
        return csv

    return make


METADATA_CASES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "missing column": (_us8k("slice_file_name,fold,class\na.wav,1,dog\n"), r"missing column\(s\) \['classID'\]"),
    "fold not a number": (_us8k(US8K_COLUMNS + "a.wav,1,0,1,1,one,3,dog\n"), r"unusable metadata CSV"),
    "duplicate rows": (_us8k(US8K_COLUMNS + "a.wav,1,0,1,1,1,3,dog\n" * 2), r"lists 1 clip\(s\) more than once"),
    "empty file": (_us8k(""), r"unusable metadata CSV"),
    "header only": (_us8k(US8K_COLUMNS), r"lists no clip"),
    "UTF-16 encoded": (_us8k((US8K_COLUMNS + "a.wav,1,0,1,1,1,3,dög\n").encode("utf-16")), r"unusable metadata CSV"),
    "no metadata folder": (lambda d: d, r"no metadata CSV found"),
}


@pytest.mark.parametrize("case", list(METADATA_CASES))
def test_labelled_audio_reader_refuses_bad_metadata_in_one_line(board, case: str, tmp_path: Path) -> None:
    make, problem = METADATA_CASES[case]
    ds = tmp_path / "ds"
    ds.mkdir()
    named = make(ds)
    harm, msg = one_line_user_error(lambda: read_labelled_audio(ds, "urbansound8k"), str(named), problem)
    board.tried("bad_input")
    board.harm("unclear", harm)
    assert harm == 0, msg


ANNOTATION_CASES = {
    "not XML": ("<annotation><object>", r"not valid XML"),
    "bbox coordinates not numbers": (
        "<annotation><object><bbox><a>0</a><xmin>x</xmin><ymin>1</ymin><xmax>2</xmax><ymax>3</ymax></bbox></object></annotation>",
        r"bbox 1: not annotator \+ 4 numbers",
    ),
    "empty box": (
        "<annotation><object><bbox><a>0</a><xmin>5</xmin><ymin>5</ymin><xmax>5</xmax><ymax>9</ymax></bbox></object></annotation>",
        r"bbox 1: empty box",
    ),
    "no bbox": ("<annotation><object/></annotation>", r"no bbox element"),
}


@pytest.mark.parametrize("case", list(ANNOTATION_CASES))
def test_box_annotations_refuse_a_bad_file_in_one_line(board, case: str, tmp_path: Path) -> None:
    text, problem = ANNOTATION_CASES[case]
    path = tmp_path / "boxes.xml"
    path.write_text(text)
    harm, msg = one_line_user_error(lambda: read_flickr_xml(path), str(path), problem)
    board.tried("bad_input")
    board.harm("unclear", harm)
    assert harm == 0, msg


PROMPT_CASES = {
    "missing": (None, r"prompt file not found"),
    "not YAML": (b"templates: [unclosed\n", r"not valid YAML"),
    "missing keys": (b"templates: ['a {x}']\n", r"expected exactly the keys"),
    "class lacks a field": (b"templates: ['a {x}']\nclasses: {dog: {y: 1}}\n", r"lacks field\(s\) \['x'\]"),
    "Latin-1 bytes": ("templates: ['a {x}']\nclasses: {chien: {x: 'aboie très'}}\n".encode("latin-1"), r"not UTF-8"),
}


@pytest.mark.parametrize("case", list(PROMPT_CASES))
def test_prompt_file_refuses_a_bad_file_in_one_line(board, case: str, tmp_path: Path) -> None:
    data, problem = PROMPT_CASES[case]
    path = tmp_path / "prompts.yaml"
    if data is not None:
        path.write_bytes(data)
    harm, msg = one_line_user_error(lambda: load_prompts(path), str(path), problem)
    board.tried("bad_input")
    board.harm("unclear", harm)
    assert harm == 0, msg


# --------------------------------------------------------------------------------------------------- params
PARAMS_CASES = {
    "unknown key": ("aed.train", {"epochz": 3}, "aed.train.epochz", r"Extra inputs are not permitted"),
    "wrong type": ("aed.train", {"epochs": "many"}, "aed.train.epochs", r"valid integer"),
    "out of range": ("aed.data", {"val_fraction": 1.5}, "aed.data.val_fraction", r"less than"),
    "negative size": ("features", {"shard_size": -4}, "features.shard_size", r"greater than or equal to 1"),
    "NaN": ("aed.train", {"lr_start": float("nan")}, "aed.train.lr_start", r"must be a finite number"),
    "a key DVC cannot see": ("seg.data", {"size": 3}, "seg.data.size", r"no parameter may be named 'size'"),
}


@pytest.mark.parametrize("case", list(PARAMS_CASES))
def test_params_refuse_a_bad_value_naming_the_key(board, case: str, root: Path, tmp_path: Path) -> None:
    section, change, key, problem = PARAMS_CASES[case]
    raw = yaml.safe_load((root / "params.yaml").read_text())
    node = raw
    for part in section.split("."):
        node = node[part]
    node.update(change)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    try:
        load_params(tmp_path)
        message = "accepted"
    except UserError as err:
        message = str(err)
    key_lines = [line for line in message.splitlines() if key in line]
    # the file on the first line, then one line per bad key (a table of keys, not a traceback)
    harm = int(str(tmp_path / "params.yaml") not in message.splitlines()[0] or len(key_lines) != 1)
    harm = harm or int(not re.search(problem, key_lines[0]))
    board.tried("bad_input")
    board.harm("unclear", harm)
    assert harm == 0, message


@pytest.mark.parametrize(
    "text,problem", [(None, "not found"), ("a: [1,\n", "not valid YAML"), ("- 1\n- 2\n", "mapping at the top level")]
)
def test_params_refuse_a_bad_file_in_one_line(board, text, problem, tmp_path: Path) -> None:
    path = tmp_path / "params.yaml"
    if text is not None:
        path.write_text(text)
    try:
        load_params(tmp_path)
        message = "accepted"
    except UserError as err:
        message = " ".join(str(err).split()) if problem == "not valid YAML" else str(err)  # YAML's mark spans lines
    board.tried("bad_input")
    board.harm("unclear", unclear(message, str(path), problem))
    assert unclear(message, str(path), problem) == 0, message


# ------------------------------------------------------------------------------------------------- archives
def _tar(members: list[tuple[tarfile.TarInfo, bytes]]) -> Callable[[Path], None]:
    def make(p: Path) -> None:
        with tarfile.open(p, "w:gz") as tf:
            for info, data in members:
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data) if info.isfile() else None)

    return make


def _info(name: str, **kw: object) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    for k, v in kw.items():
        setattr(info, k, v)
    return info


def _zip(name: str) -> Callable[[Path], None]:
    def make(p: Path) -> None:
        with zipfile.ZipFile(p, "w") as zf:
            zf.writestr(name, b"x")

    return make


def _truncated_tar(p: Path) -> None:
    _tar([(_info("a/big.bin"), np.random.default_rng(0).bytes(200_000))])(p)
    p.write_bytes(p.read_bytes()[:5000])


ARCHIVE_CASES = {
    "path traversal": (_tar([(_info("../evil.txt"), b"x")]), r"escapes the destination"),
    "absolute path": (_tar([(_info("/tmp/evil.txt"), b"x")]), r"absolute path"),
    "symlink escaping": (_tar([(_info("a/link", type=tarfile.SYMTYPE, linkname="../../etc"), b"")]), r"escapes"),
    "hardlink outside": (_tar([(_info("a/h", type=tarfile.LNKTYPE, linkname="/etc/passwd"), b"")]), r"absolute"),
    "device member": (_tar([(_info("a/dev", type=tarfile.CHRTYPE), b"")]), r"device or fifo"),
    "zip traversal": (_zip("../../evil.txt"), r"escapes the destination"),
    "random bytes": (lambda p: p.write_bytes(np.random.default_rng(1).bytes(3000)), r"not a zip or tar archive"),
    "truncated tar.gz": (_truncated_tar, r"corrupt or truncated archive"),
}


@pytest.mark.parametrize("case", list(ARCHIVE_CASES))
def test_extract_refuses_a_bad_archive_in_one_line(board, case: str, tmp_path: Path) -> None:
    make, problem = ARCHIVE_CASES[case]
    archive, dest = tmp_path / "data.tar.gz", tmp_path / "dest"
    make(archive)
    harm, msg = one_line_user_error(lambda: extract(archive, dest), str(archive), problem)
    written = [p for p in tmp_path.rglob("*") if p != archive]
    board.tried("bad_input")
    board.harm("unclear", harm)
    board.harm("files_lost", 0)
    assert harm == 0, msg
    assert written == [] and not (tmp_path.parent / "evil.txt").exists()


# ------------------------------------------------------------------------------------------- CLI arguments
@pytest.mark.parametrize(
    "argv,names,problem",
    [
        (["stage", "no_such_stage"], "no_such_stage", r"unknown stage"),
        (["run", "--flow", "no_such_flow"], "no_such_flow", r"unknown workflow"),
        (["features", "logmel_pann", ".", "--out", "o", "--device", "tpu"], "tpu", r"'tpu' is not one of"),
        (["no_such_command"], "no_such_command", r"unknown command"),
        (["segment", "--test-images", ".", "--test-images-type", "gif"], "gif", r"'gif' is not one of 'png', 'jpg'"),
        (["predict", "--model", "wav2vec", "a.wav"], "wav2vec", r"no such checkpoint file; use aed, yamnet"),
        (["predict", "a.wav", "--results", "many"], "many", r"'many' is not a valid integer"),
        (["features", "logmel_pann", ".", "--out", "o"], "metadata/UrbanSound8K.csv", r"no metadata CSV found"),
    ],
)
def test_cli_refuses_a_bad_argument_in_one_line(board, argv, names, problem, project, monkeypatch, capsys) -> None:
    monkeypatch.chdir(project)
    code, out, err = run_cli(argv, capsys)
    harm = unclear(err, names, problem) or int("Traceback" in err)
    board.tried("bad_input")
    board.harm("unclear", harm)
    assert code == 2 and harm == 0, err


# ------------------------------------------------------------------------------------------- feature store
def _labelled_folder(d: Path, good: int, bad: int) -> Path:
    audio = d / "audio"
    audio.mkdir(parents=True)
    rows = []
    for i in range(good + bad):
        name = f"{i + 1}-{i}-A-0.wav"
        if i < good:
            (audio / name).write_bytes(_wav_bytes(seconds=1.0))
        else:
            (audio / name).write_text("not audio")
        rows.append({"filename": name, "fold": 1 + i % 2, "target": i % 2, "category": f"c{i % 2}"})
    pd.DataFrame(rows).to_csv(d / "meta.csv", index=False)
    return d


def _features(src: Path, out: Path, capsys) -> tuple[int, str, str]:
    argv = ["features", "logmel_t2a", str(src), "--layout", "esc50", "--out", str(out), "--device", "cpu"]
    return run_cli([*argv, "--max-bad-fraction", "0.5"], capsys)


def test_feature_store_with_some_bad_files_completes_and_lists_them(board, project, tmp_path, monkeypatch, capsys):
    src = _labelled_folder(tmp_path / "esc", good=3, bad=1)
    monkeypatch.chdir(project)
    code, out, err = _features(src, tmp_path / "store", capsys)
    skipped = pd.read_csv(tmp_path / "store" / "skipped.csv")
    board.tried("bad_input")
    board.harm("unclear", int(len(skipped) != 1 or "cannot decode" not in skipped["reason"][0]))
    assert code == 0 and "3 input(s)" in out and "1 skipped" in out, err
    assert skipped["path"].tolist() == [str(src / "audio" / "4-3-A-0.wav")]


def test_feature_store_with_only_bad_files_fails_in_one_sentence(board, project, tmp_path, monkeypatch, capsys):
    src = _labelled_folder(tmp_path / "esc", good=0, bad=3)
    monkeypatch.chdir(project)
    code, out, err = _features(src, tmp_path / "store", capsys)
    first = str(src / "audio" / "1-0-A-0.wav")
    problem = r"3 of 3 inputs unusable .*first: .*cannot decode"
    board.tried("bad_input", 3)
    board.harm("unclear", unclear(err, first, problem))
    assert code == 2 and unclear(err, first, problem) == 0, err
