"""Fuzzing of every reader of user files: nothing but the project's own error types may come out.

Each target gets random bytes and valid files mutated (truncated at a random point, bytes flipped, header
fields rewritten): the audio, image and video loaders, the params validator (params.yaml and ``--apply``
override files), the archive extractor (tar and zip members of every name and type, which must never put
anything outside the destination folder) and the metadata readers (labelled-audio CSVs, Flickr box XML,
prompt files). A reader may accept a mutated file that still decodes; what it must not do is raise a
foreign exception (``struct.error``, ``zlib.error``, a PIL or pandas error...), which the command line
would show as a traceback instead of one sentence naming the file.

Each test runs its examples, collects the foreign exceptions, records them on the scoreboard, then fails
showing the first falsifying input. The runs are derandomised (the same examples every time); the soak
variants (``make reliability``) try many more.
"""

from __future__ import annotations

import io
import os
import shutil
import stat
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from soundflow.audio import AudioError, load_audio
from soundflow.errors import UserError
from soundflow.pipeline.config import ParamsError, apply_overrides, parse_params, read_overrides, read_params_yaml
from tasks.datasets import extract as archives
from tasks.datasets.corpora import urbansound8k
from tasks.datasets.labelled_audio import DatasetLayoutError, read_labelled_audio
from tasks.datasets.soundnet_flickr import AnnotationError, Box, read_flickr_xml, write_flickr_xml
from tasks.features.frames import ImageError, load_image
from tasks.features.video import VideoError, read_video_second, video_seconds
from tasks.segmentation import predict as seg_predict
from tasks.segmentation.dataset import CityscapesSegmentation
from tasks.text_to_audio.prompts import PromptFileError, load_prompts, parse_prompts
from tests.helpers.paths import ROOT as REPO_ROOT
from tests.helpers.video import write_video

FAST = 60  # examples per target in `make test`
SOAK = int(os.environ.get("SOUNDFLOW_FUZZ_EXAMPLES", "500"))  # and under `make reliability`


def fuzz_settings(n: int) -> settings:
    return settings(
        max_examples=n,
        deadline=None,
        derandomize=True,  # the same examples on every run: CI is reproducible
        database=None,
        suppress_health_check=list(HealthCheck),
    )


class Findings:
    """The foreign exceptions of one target: a call may succeed or raise ``allowed``; anything else is kept."""

    def __init__(self, allowed: tuple[type[BaseException], ...]) -> None:
        self.allowed = (UserError, *allowed)
        self.tried = 0
        self.foreign: list[tuple[str, BaseException]] = []

    def call(self, what: str, fn: Callable[[], object], names: str | None = None, one_line: bool = True) -> object:
        """Run ``fn``; an allowed error must name ``names`` (the file) in a message of one line."""
        self.tried += 1
        try:
            return fn()
        except self.allowed as err:
            if names is not None and names not in str(err):
                self.foreign.append((what, AssertionError(f"message does not name {names!r}: {err}")))
            elif one_line and "\n" in str(err).strip():
                self.foreign.append((what, AssertionError(f"message of several lines: {err}")))
        except Exception as err:  # noqa: BLE001 - what the fuzzer is looking for
            self.foreign.append((what, err))
        return None

    def record(self, board) -> None:
        board.tried("bad_input", self.tried)
        board.harm("unclear", len(self.foreign))

    def report(self) -> str:
        what, err = self.foreign[0]
        kinds = sorted({type(e).__name__ for _, e in self.foreign})
        return (
            f"{len(self.foreign)} of {self.tried} inputs raised a foreign error ({', '.join(kinds)}); "
            f"first: {type(err).__name__}: {err}\n  falsifying input: {what}"
        )


def run_fuzz(board, findings: Findings, test: Callable[[], None]) -> None:
    test()
    findings.record(board)
    if findings.foreign:
        pytest.fail(findings.report(), pytrace=False)


# ----------------------------------------------------------------------------------------------- mutations
def _xor(data: bytes, flips: list[tuple[int, int]]) -> bytes:
    b = bytearray(data)
    for i, x in flips:
        b[i % len(b)] ^= x
    return bytes(b)


def _put(data: bytes, at: int, value: int, fmt: str) -> bytes:
    b = bytearray(data)
    size = struct.calcsize(fmt)
    at = min(at, len(b) - size)
    b[at : at + size] = struct.pack(fmt, value % (1 << (8 * size)))
    return bytes(b)


FIELD_VALUES = st.sampled_from(
    [0, 1, 2, 3, 7, 8, 255, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF]
) | st.integers(0, 2**32 - 1)


def mutated(valid: bytes, fields: list[int] | None = None) -> st.SearchStrategy[bytes]:
    """``valid`` truncated, with bytes flipped, a header field rewritten, or bytes spliced in; or random bytes.

    ``fields`` are offsets of the format's header fields (the first 64 bytes when not given)."""
    n = len(valid)
    offsets = st.sampled_from(fields) if fields else st.integers(0, min(64, n) - 4)
    fmts = st.sampled_from(["<I", ">I", "<H", ">H", "B"])
    return st.one_of(
        st.integers(0, n - 1).map(lambda k: valid[:k]),
        st.lists(st.tuples(st.integers(0, n - 1), st.integers(1, 255)), min_size=1, max_size=8).map(
            lambda fl: _xor(valid, fl)
        ),
        st.tuples(offsets, FIELD_VALUES, fmts).map(lambda t: _put(valid, *t)),
        st.tuples(st.integers(0, n), st.binary(min_size=1, max_size=64)).map(
            lambda t: valid[: t[0]] + t[1] + valid[t[0] :]
        ),
        st.binary(max_size=512),
    )


def _show(data: bytes) -> str:
    return f"{len(data)} bytes {data[:48]!r}{'...' if len(data) > 48 else ''}"


# --------------------------------------------------------------------------------------------------- audio
def _wav_bytes(subtype: str, fmt: str = "WAV") -> bytes:
    buf = io.BytesIO()
    t = np.arange(441) / 22050
    sf.write(buf, (0.4 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 22050, subtype=subtype, format=fmt)
    return buf.getvalue()


WAV = _wav_bytes("PCM_16")
WAV_FIELDS = [4, 16, 20, 22, 24, 28, 32, 34, 40]  # RIFF size, fmt size, format, channels, rate, byte rate, align...
AUDIO = st.one_of(mutated(WAV, WAV_FIELDS), mutated(_wav_bytes("FLOAT")), mutated(_wav_bytes("PCM_16", "FLAC")))


def _audio_test(board, tmp_path: Path, n: int) -> None:
    found = Findings((AudioError,))
    path = tmp_path / "clip.wav"

    @fuzz_settings(n)
    @given(data=AUDIO)
    def test(data: bytes) -> None:
        path.write_bytes(data)
        found.call(_show(data), lambda: load_audio(path, 16000), names=path.name)

    run_fuzz(board, found, test)


def test_audio_loader_raises_only_audio_errors(board, tmp_path):
    _audio_test(board, tmp_path, FAST)


@pytest.mark.soak
def test_audio_loader_soak(board, tmp_path):
    _audio_test(board, tmp_path, SOAK)


# -------------------------------------------------------------------------------------------------- images
def _image_bytes(fmt: str, mode: str = "RGB") -> bytes:
    rng = np.random.default_rng(0)
    img = Image.fromarray(rng.integers(0, 255, (12, 16, 3), dtype=np.uint8)).convert(mode)
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


PNG = _image_bytes("PNG")


def _png_ihdr(fields: tuple[int, int, int, int, int, int, int]) -> bytes:
    """The valid PNG with its IHDR rewritten (width, height, depth, colour type, compression, filter,
    interlace) and its CRC fixed, so the decoder gets past the checksum to the fields themselves."""
    body = b"IHDR" + struct.pack(">IIBBBBB", *fields)
    return PNG[:8] + struct.pack(">I", 13) + body + struct.pack(">I", zlib.crc32(body)) + PNG[33:]


IHDR = st.tuples(
    st.sampled_from([0, 1, 16, 4096]) | st.integers(0, 4096),  # at most 4096 x 4096: a bounded allocation
    st.sampled_from([0, 1, 12, 4096]) | st.integers(0, 4096),
    st.sampled_from([0, 1, 2, 4, 8, 16, 3, 255]),
    st.sampled_from([0, 2, 3, 4, 6, 1, 7, 255]),
    st.sampled_from([0, 1, 255]),
    st.sampled_from([0, 1, 255]),
    st.sampled_from([0, 1, 2, 255]),
).map(_png_ihdr)
IMAGES = st.one_of(
    mutated(PNG, [8, 12, 16, 20, 24, 25, 33]), IHDR, mutated(_image_bytes("JPEG")), mutated(_image_bytes("PNG", "P"))
)


def _cityscapes_pair(root: Path) -> tuple[Path, Path]:
    """A one-image Cityscapes split: (image, labelIds) paths, both valid 16 x 12 PNGs."""
    img = root / "leftImg8bit" / "val" / "c" / "x_leftImg8bit.png"
    lab = root / "gtFine" / "val" / "c" / "x_gtFine_labelIds.png"
    for p in (img, lab):
        p.parent.mkdir(parents=True)
    img.write_bytes(PNG)
    Image.fromarray(np.arange(12 * 16, dtype=np.uint8).reshape(12, 16) % 34).save(lab)
    return img, lab


def _image_test(board, tmp_path: Path, n: int) -> None:
    found = Findings((ImageError,))
    path = tmp_path / "frame.png"
    img, lab = _cityscapes_pair(tmp_path / "cityscapes")
    valid_label = lab.read_bytes()
    dataset = CityscapesSegmentation(tmp_path / "cityscapes", "val", size=(8, 8))

    @fuzz_settings(n)
    @given(data=IMAGES, label=st.one_of(IMAGES, mutated(valid_label, [16, 20, 24, 25])))
    def test(data: bytes, label: bytes) -> None:
        path.write_bytes(data)
        found.call(f"frames: {_show(data)}", lambda: load_image(path), names=path.name)
        found.call(f"segment: {_show(data)}", lambda: seg_predict.load_image(path, (16, 16)), names=path.name)
        img.write_bytes(data)  # a training image, then its label map
        found.call(f"cityscapes image: {_show(data)}", lambda: dataset[0], names="x_")
        img.write_bytes(PNG)
        lab.write_bytes(label)
        found.call(f"cityscapes labelIds: {_show(label)}", lambda: dataset[0], names=lab.name)

    run_fuzz(board, found, test)


def test_image_loaders_raise_only_image_errors(board, tmp_path):
    _image_test(board, tmp_path, FAST)


@pytest.mark.soak
def test_image_loaders_soak(board, tmp_path):
    _image_test(board, tmp_path, SOAK)


# -------------------------------------------------------------------------------------------------- videos
def _mp4_bytes(tmp: Path) -> bytes:
    """Two seconds of MPEG-4 video with AAC audio in MP4: the common container of user videos."""
    import av

    path = tmp / "v.mp4"
    with av.open(str(path), "w") as c:
        v = c.add_stream("mpeg4", rate=5)
        v.width, v.height, v.pix_fmt = 32, 32, "yuv420p"
        a = c.add_stream("aac", rate=16000)
        a.layout = "mono"
        for i in range(10):
            frame = np.full((32, 32, 3), 20 * i, np.uint8)
            c.mux(v.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        c.mux(v.encode())
        wave = (0.3 * np.sin(np.arange(32000) / 5) * 32767).astype(np.int16)
        for s in range(0, len(wave), 1024):
            frame = av.AudioFrame.from_ndarray(wave[None, s : s + 1024], format="s16", layout="mono")
            frame.sample_rate, frame.pts = 16000, s
            c.mux(a.encode(frame))
        c.mux(a.encode())
    return path.read_bytes()


def _atom_fields(data: bytes, atoms: tuple[bytes, ...]) -> list[int]:
    """Offsets of the 32-bit fields right after each of ``atoms`` (timescales, durations, sizes, offsets)."""
    out = []
    for atom in atoms:
        at = data.find(atom)
        if at >= 0:
            out += [at + 4 + 4 * k for k in range(8) if at + 8 + 4 * k <= len(data)]
    return out or [0]


def _video_test(board, tmp_path: Path, n: int) -> None:
    found = Findings((VideoError,))
    mp4 = _mp4_bytes(tmp_path)
    write_video(tmp_path / "v.mkv", seconds=2, fps=5, sample_rate=8000, size=(16, 16))
    mkv = (tmp_path / "v.mkv").read_bytes()
    fields = _atom_fields(mp4, (b"mvhd", b"tkhd", b"mdhd", b"stts", b"stsz", b"stco", b"stsc", b"hdlr"))
    path = tmp_path / "clip.mp4"

    @fuzz_settings(n)
    @given(data=st.one_of(mutated(mp4, fields), mutated(mkv)), second=st.sampled_from([0, 1, 3]))
    def test(data: bytes, second: int) -> None:
        path.write_bytes(data)
        found.call(f"seconds: {_show(data)}", lambda: video_seconds(path), names=path.name)
        found.call(
            f"second {second}: {_show(data)}", lambda: read_video_second(path, second, 1.0, 8000), names=path.name
        )

    run_fuzz(board, found, test)


def test_video_loader_raises_only_video_errors(board, tmp_path):
    _video_test(board, tmp_path, FAST)


@pytest.mark.soak
def test_video_loader_soak(board, tmp_path):
    _video_test(board, tmp_path, SOAK)


# -------------------------------------------------------------------------------------------------- params
PARAMS_TEXT = (REPO_ROOT / "params.yaml").read_text()
PARAMS = yaml.safe_load(PARAMS_TEXT)


def _leaves(tree: object, prefix: str = "") -> list[str]:
    if isinstance(tree, dict):
        return [k for key, v in tree.items() for k in _leaves(v, f"{prefix}{key}.")] or [prefix.rstrip(".")]
    return [prefix.rstrip(".")]


LEAF_KEYS = sorted(k for k in _leaves(PARAMS) if k)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**64), 2**64),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(["", "0", "-1", "1e999", "nan", "auto", "cpu", "../x", "/abs", "99 99 * * *", "a\nb"]),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6) | st.integers(), inner, max_size=4),
    max_leaves=10,
)
DOTTED = st.one_of(
    st.sampled_from(LEAF_KEYS),
    st.sampled_from(LEAF_KEYS).map(lambda k: k.rsplit(".", 1)[0]),  # a whole section
    st.text(alphabet="abz._0", max_size=16),
)


def _leaf(dotted: str) -> object:
    node: object = PARAMS
    for part in dotted.split("."):
        node = node[part]
    return node


STRINGS = sorted({str(_leaf(k)) for k in LEAF_KEYS if isinstance(_leaf(k), str)})


def _near(old: object) -> st.SearchStrategy:
    """A value of ``old``'s own kind, so that validation gets past the types to the rules between keys."""
    if isinstance(old, bool):
        return st.booleans()
    if isinstance(old, int):
        return st.integers(-2, max(4, 2 * old))
    if isinstance(old, float):
        return st.floats(-1.0, max(2.0, 2 * old))
    if isinstance(old, list):
        return st.lists(st.sampled_from(old) if old else SCALARS, max_size=len(old) + 2)
    return st.sampled_from(STRINGS) if isinstance(old, str) else VALUES


NEAR = st.sampled_from(LEAF_KEYS).flatmap(lambda k: st.tuples(st.just(k), _near(_leaf(k))))


def _params_tree(changes: list[tuple[str, object]], drops: list[str]) -> dict:
    tree = yaml.safe_load(PARAMS_TEXT)  # a fresh copy
    for dotted, value in changes:
        *parents, last = dotted.split(".")
        node = tree
        for p in parents:
            node = node.setdefault(p, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict):
            node[last] = value
    for dotted in drops:
        *parents, last = dotted.split(".")
        node = tree
        for p in parents:
            node = node.get(p, {}) if isinstance(node, dict) else {}
        if isinstance(node, dict):
            node.pop(last, None)
    return tree


PARAM_TREES = st.one_of(
    st.builds(
        _params_tree, st.lists(st.tuples(DOTTED, VALUES) | NEAR | NEAR, max_size=4), st.lists(DOTTED, max_size=2)
    ),
    VALUES,  # not even a mapping
)


def _params_test(board, tmp_path: Path, n: int) -> None:
    found = Findings((ParamsError,))
    params_file, override_file = tmp_path / "params.yaml", tmp_path / "overrides.yaml"

    @fuzz_settings(n)
    @given(
        tree=PARAM_TREES,
        overrides=st.lists(st.tuples(DOTTED, VALUES) | NEAR, max_size=3).map(dict),
        text=st.one_of(mutated(PARAMS_TEXT.encode()[:600]), st.binary(max_size=200)),
    )
    def test(tree: object, overrides: dict, text: bytes) -> None:
        # several invalid keys are listed one per line, by design
        found.call(f"tree {str(tree)[:300]}", lambda: parse_params(tree, params_file), one_line=False)
        params_file.write_text(PARAMS_TEXT)
        override_file.write_text(yaml.safe_dump(overrides))  # `soundflow params --apply FILE`
        found.call(
            f"--apply {overrides!r}",
            lambda: apply_overrides(params_file, read_overrides(override_file), override_file),
            one_line=False,
        )
        params_file.write_bytes(text)
        found.call(f"params.yaml {_show(text)}", lambda: read_params_yaml(params_file), names=params_file.name)
        override_file.write_bytes(text)
        found.call(f"overrides {_show(text)}", lambda: read_overrides(override_file), names=override_file.name)

    run_fuzz(board, found, test)


@pytest.mark.slow
def test_params_validator_raises_only_params_errors(board, tmp_path):
    _params_test(board, tmp_path, FAST)


@pytest.mark.soak
def test_params_validator_soak(board, tmp_path):
    _params_test(board, tmp_path, SOAK)


# ------------------------------------------------------------------------------------------------ archives
OUT = "{OUT}"  # stands for the absolute path of a folder beside the destination
SAFE_NAMES = st.sampled_from(["a", "b", "d/", "d/x", "d/e/f", "a.txt"])  # so that extraction itself is reached
NAMES = st.one_of(
    SAFE_NAMES,
    st.sampled_from(
        [
            "a",
            "a/b",
            "d/",
            "./a",
            "..",
            "../x",
            "../../outside/x",
            "a/../../x",
            "a/../b",
            "link/x",
            "link",
            "/etc/x",
            f"{OUT}/x",
            f"{OUT}",
            "C:/x",
            "c:x",
            "a\\..\\..\\x",
            "..\\x",
            "//x",
            "a//b",
            ".",
            "",
            "a/./b",
            "d/../../outside/secret",
            "x\x00y",
        ]
    ),
    st.text(alphabet="ab./\\:", max_size=10),
)
TAR_TYPES = [
    tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.DIRTYPE, tarfile.SYMTYPE, tarfile.LNKTYPE, tarfile.CHRTYPE,
    tarfile.BLKTYPE, tarfile.FIFOTYPE, tarfile.CONTTYPE, b"V", b"Z",
]  # fmt: skip
ZIP_KINDS = [stat.S_IFREG, stat.S_IFDIR, stat.S_IFLNK, stat.S_IFCHR, stat.S_IFBLK, stat.S_IFIFO, stat.S_IFSOCK, 0]
MEMBER = st.tuples(NAMES, st.just(0) | st.integers(0, len(TAR_TYPES) - 1), NAMES, st.binary(max_size=40))
MEMBERS = st.lists(MEMBER, min_size=1, max_size=5)


def _tar(members: list, out: str, compression: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=f"w:{compression}", format=tarfile.GNU_FORMAT) as tf:
        for name, kind, link, payload in members:
            info = tarfile.TarInfo(name.replace(OUT, out))
            info.type, info.linkname, info.mode = TAR_TYPES[kind], link.replace(OUT, out), 0o644
            data = payload if info.type in (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE) else b""
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _zip(members: list, out: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, kind, link, payload in members:
            info = zipfile.ZipInfo(name.replace(OUT, out) or "_")
            mode = ZIP_KINDS[kind % len(ZIP_KINDS)]
            info.create_system, info.external_attr = 3, (mode | 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED if len(payload) % 2 else zipfile.ZIP_STORED
            zf.writestr(info, link.replace(OUT, out).encode() if mode == stat.S_IFLNK else payload)
    return buf.getvalue()


def _tar_size_field(data: bytes, header: int, size: int) -> bytes:
    """Member ``header``'s size field set to ``size`` with the header's checksum fixed (so tarfile reads it)."""
    b = bytearray(data)
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        offsets = [m.offset for m in tf.getmembers()] or [0]
    at = offsets[header % len(offsets)]
    b[at + 124 : at + 136] = f"{size % 8**11:011o}\0".encode()
    b[at + 148 : at + 156] = b" " * 8
    b[at + 148 : at + 156] = f"{sum(b[at : at + 512]) % 8**6:06o}\0 ".encode()
    return bytes(b)


def _archive(draw, members: list, out: str) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(["tar", "tar.gz", "zip"]))
    data = _zip(members, out) if kind == "zip" else _tar(members, out, "gz" if kind == "tar.gz" else "")
    how = draw(st.sampled_from(["as built", "truncated", "flipped"] + ["tar size"] * (kind == "tar")))
    if how == "truncated":
        data = data[: draw(st.integers(0, len(data) - 1))]
    elif how == "flipped":
        data = _xor(data, draw(st.lists(st.tuples(st.integers(0, len(data) - 1), st.integers(1, 255)), min_size=1)))
    elif how == "tar size" and kind == "tar":
        data = _tar_size_field(data, draw(st.integers(0, 8)), draw(FIELD_VALUES))
    return f"{kind} {how}", data


def _escapes(case: Path, dest: Path, archive: Path, secret: Path) -> list[str]:
    """Everything the extraction left outside ``dest``, links out of it, and any change to the secret."""
    found = []
    for folder, dirs, files in os.walk(case):
        for name in dirs + files:
            p = Path(folder, name)
            if p in (dest, archive, secret, secret.parent, archive.parent) or dest in p.parents:
                if p.is_symlink() and not Path(os.path.realpath(p)).is_relative_to(os.path.realpath(dest)):
                    found.append(f"{p} links out to {os.readlink(p)}")
                continue
            found.append(f"{p} written outside {dest}")
    if not secret.is_file() or secret.read_bytes() != b"secret" or secret.stat().st_nlink != 1:
        found.append(f"{secret} changed or hard-linked")
    return found


def _archive_test(board, tmp_path: Path, n: int) -> None:
    found = Findings((archives.ArchiveError,))
    escapes: list[str] = []

    @fuzz_settings(n)
    @given(members=MEMBERS, build=st.data())
    def test(members: list, build) -> None:
        case = tmp_path / "case"
        shutil.rmtree(case, ignore_errors=True)
        secret, dest = case / "outside" / "secret", case / "work" / "dest"
        secret.parent.mkdir(parents=True)
        dest.parent.mkdir()
        secret.write_bytes(b"secret")
        how, data = _archive(build.draw, members, str(secret.parent))
        archive = case / "work" / ("a.zip" if how.startswith("zip") else "a.tar")
        archive.write_bytes(data)
        what = f"{how}: {members!r}"
        found.call(what, lambda: archives.extract(archive, dest), names=archive.name)
        escapes.extend(f"{e} ({what})" for e in _escapes(case, dest, archive, secret))

    test()
    found.record(board)
    board.harm("files_lost", len(escapes))  # a member written outside could overwrite any file of the user
    assert not escapes, f"{len(escapes)} extraction(s) wrote outside the destination; first: {escapes[0]}"
    if found.foreign:
        pytest.fail(found.report(), pytrace=False)


@pytest.mark.filterwarnings("ignore:Duplicate name")  # zip members of one name, on purpose
def test_archive_extractor_stays_inside_and_raises_only_archive_errors(board, tmp_path):
    _archive_test(board, tmp_path, 100)


@pytest.mark.soak
@pytest.mark.filterwarnings("ignore:Duplicate name")
def test_archive_extractor_soak(board, tmp_path):
    _archive_test(board, tmp_path, SOAK)


# ------------------------------------------------------------------------------------------------ metadata
CELLS = st.one_of(
    st.integers(-3, 12).map(str),
    st.sampled_from(["", "nan", "NA", "inf", "1.5", "-0", "1e30", '"', "a,b", "x.wav", "dog", "Dog", "\t"]),
    st.text(max_size=6),
)
US8K_COLUMNS = ["slice_file_name", "fsID", "start", "end", "salience", "fold", "classID", "class"]
ESC50_COLUMNS = ["filename", "fold", "target", "category", "esc10", "src_file", "take"]


@st.composite
def csv_text(draw, columns: list[str]) -> bytes:
    cols = draw(st.lists(st.sampled_from(columns + ["extra", ""]), min_size=0, max_size=len(columns) + 1))
    cols = cols if draw(st.booleans()) else columns  # often the full header, so the rows are what is fuzzed
    rows = draw(st.lists(st.lists(CELLS, min_size=len(cols), max_size=len(cols) + 1), max_size=6))
    text = "\n".join(",".join(r) for r in [cols, *rows]).encode("utf-8", "surrogatepass")
    return draw(st.one_of(st.just(text), mutated(text) if len(text) > 8 else st.binary(max_size=64)))


def _metadata_test(board, tmp_path: Path, n: int) -> None:
    found = Findings((DatasetLayoutError, AnnotationError, PromptFileError))
    us8k, esc50 = tmp_path / "us8k" / "metadata" / "UrbanSound8K.csv", tmp_path / "esc50" / "meta" / "esc50.csv"
    for p in (us8k, esc50):
        p.parent.mkdir(parents=True)
    xml = tmp_path / "boxes.xml"
    write_flickr_xml(xml, [Box(0, 10, 20, 100, 120), Box(1, 12, 22, 90, 130, category=3)])
    valid_xml = xml.read_bytes()
    prompts = tmp_path / "prompts.yaml"
    valid_prompts = (REPO_ROOT / "configs" / "text_to_audio" / "prompts.yaml").read_bytes()[:900]

    def prompt_book() -> object:
        book = load_prompts(prompts)
        for label in book.classes:  # a book that loads must give every prompt
            book.prompts(label, len(book.templates))
        return book

    @fuzz_settings(n)
    @given(
        us8k_csv=csv_text(US8K_COLUMNS),
        esc50_csv=csv_text(ESC50_COLUMNS),
        xml_bytes=st.one_of(mutated(valid_xml), st.text(max_size=200).map(str.encode)),
        prompt_bytes=st.one_of(mutated(valid_prompts), st.text(alphabet="{}!:.[]0ab \n-", max_size=60).map(
            lambda t: f"templates: ['{t}']\nclasses: {{dog: {{a: x, b: '1'}}}}\n".encode()
        )),
    )  # fmt: skip
    def test(us8k_csv: bytes, esc50_csv: bytes, xml_bytes: bytes, prompt_bytes: bytes) -> None:
        us8k.write_bytes(us8k_csv)
        found.call(f"UrbanSound8K.csv {_show(us8k_csv)}", lambda: read_labelled_audio(us8k.parents[1], "urbansound8k"))
        found.call(f"urbansound8k corpus {_show(us8k_csv)}", lambda: urbansound8k.prepare(us8k.parents[1]))
        esc50.write_bytes(esc50_csv)
        found.call(f"esc50.csv {_show(esc50_csv)}", lambda: read_labelled_audio(esc50.parents[1], "esc50"))
        xml.write_bytes(xml_bytes)
        found.call(f"boxes.xml {_show(xml_bytes)}", lambda: read_flickr_xml(xml), names=xml.name)
        prompts.write_bytes(prompt_bytes)
        found.call(f"prompts.yaml {_show(prompt_bytes)}", prompt_book, names=prompts.name)

    run_fuzz(board, found, test)


def test_metadata_readers_raise_only_their_errors(board, tmp_path):
    _metadata_test(board, tmp_path, FAST)


@pytest.mark.soak
def test_metadata_readers_soak(board, tmp_path):
    _metadata_test(board, tmp_path, SOAK)


def test_parse_prompts_refuses_a_template_it_cannot_fill(board):
    """The prompt reader's own check, as the fuzzer found it missing: a template must format for every class."""
    board.tried("bad_input", 1)
    with pytest.raises(PromptFileError, match="template") as err:
        parse_prompts({"templates": ["a {x!z}"], "classes": {"dog": {"x": "1"}}}, "p.yaml")
    board.harm("unclear", 0 if "p.yaml" in str(err.value) else 1)
