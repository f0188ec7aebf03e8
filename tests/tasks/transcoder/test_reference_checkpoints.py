"""The transcoder authors' checkpoints in our CNN, and our pipeline's pieces against their own outputs on a real
TAU clip (shared/data/transcoder_reference/reference_outputs.npz, made by their code; skipped without it)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from models.checkpoint_format import CheckpointError
from models.transcoder_cnn import TranscoderCNN, load_authors_cnn
from models.yamnet_frontend import tf_mel_matrix
from tasks.features.third_octave import ThirdOctave, ThirdOctaveParams
from tasks.transcoder.metrics import clip_top1_agreement
from tasks.transcoder.pinv import PinvTranscoder
from tasks.transcoder.reference import (
    authors_teacher_mel,
    clip_waves,
    google_teacher_mel,
    load_authors_transcoder,
    third_octave_chunks,
)
from tests.helpers.paths import SHARED

REF = SHARED / "data" / "transcoder_reference"
MODELS = REF / "paperSpectralTranscoder" / "reference_models"
CLIP = REF / "paperSpectralTranscoder" / "audio" / "street_pedestrian-paris-152-4607-a.wav"
COMMON = "+dataset=full+dilation=1+epoch=200+kernel_size=5+learning_rate=-3+nb_channels=64+nb_layers=5"
CHECKPOINTS = {
    "yamnet_logits": f"classifier=YamNet{COMMON}+prop_logit=100+step=train+transcoder=cnn_pinv+ts=1_model",
    "pann_logits": f"classifier=PANN{COMMON}+prop_logit=100+step=train+transcoder=cnn_pinv+ts=1_model",
    "pann_mels": f"classifier=PANN{COMMON}+step=train+transcoder=cnn_pinv+ts=0_model",
}
needs_reference = pytest.mark.skipif(
    not (REF / "reference_outputs.npz").is_file(), reason=f"{REF} not present (shared reference data)"
)


def their_forward(state: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """The authors' CNN written from its definition: replication pad (k // 2, k // 2, 1, 1), conv, ReLU between
    layers, none after the last; the output is ``x - conv(x)``."""
    z = x.unsqueeze(1)
    convs = sorted({int(k.split(".")[1]) for k in state})
    for j, i in enumerate(convs):
        w = state[f"mod_conv.{i}.weight"]
        z = F.conv2d(F.pad(z, (w.shape[3] // 2,) * 2 + (1, 1), mode="replicate"), w, state[f"mod_conv.{i}.bias"])
        z = F.relu(z) if j < len(convs) - 1 else z
    return x - z.squeeze(1)


def authors_file(tmp_path: Path, state: dict[str, torch.Tensor], settings: str | None = None) -> Path:
    path = tmp_path / "model"
    torch.save(state, path)
    if settings is not None:
        (tmp_path / "model_settings.yaml").write_text(settings)
    return path


def small_authors_state(seed: int = 0) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    cnn = TranscoderCNN(channels=6, layers=4, kernel=(3, 5))
    return {"mod_conv." + k[len("net.") :]: v for k, v in cnn.state_dict().items() if k.startswith("net.")}


SETTINGS = "model_type: cnn_pinv\ncnn_dilation: 1\ncnn_nb_channels: 6\ncnn_nb_layers: 4\ncnn_kernel_size: 5\n"


def test_the_key_map_gives_their_function(tmp_path: Path) -> None:
    state = small_authors_state()
    model, settings = load_authors_cnn(authors_file(tmp_path, state, SETTINGS + "mels_type: YamNet\n"))
    assert settings is not None and settings["mels_type"] == "YamNet" and not model.training
    assert float(model.offset) == 0.0 and float(model.scale) == 1.0  # their CNN does not standardise its input
    x = torch.randn(3, 96, 64)
    with torch.no_grad():
        assert torch.allclose(model(x), their_forward(state, x), atol=1e-5)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: s.pop("mod_conv.4.bias"), "missing keys net.4.bias"),
        (lambda s: s.update({"mod_conv.4.extra": torch.zeros(1)}), "unexpected keys net.4.extra"),
        (lambda s: s.update({"mod_conv.4.bias": torch.zeros(7)}), r"net.4.bias has shape \(7,\)"),
        (lambda s: s.update({"net.1.weight": torch.zeros(1)}), "lack 'mod_conv.'"),
    ],
)
def test_a_checkpoint_that_does_not_fit_is_refused(tmp_path: Path, change, message: str) -> None:  # noqa: ANN001
    state = small_authors_state()
    change(state)
    with pytest.raises(CheckpointError, match=message):
        load_authors_cnn(authors_file(tmp_path, state))


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (SETTINGS.replace("cnn_dilation: 1", "cnn_dilation: 2"), "cnn_dilation=2"),
        (
            SETTINGS.replace("cnn_nb_channels: 6", "cnn_nb_channels: 64"),
            "cnn_nb_channels=6.* needs 6|cnn_nb_channels=64",
        ),
        (SETTINGS.replace("cnn_pinv", "mlp_pinv"), "model_type='mlp_pinv'"),
        ("[1, 2", "cannot read the transcoder settings"),
    ],
)
def test_settings_that_disagree_are_refused(tmp_path: Path, settings: str, message: str) -> None:
    with pytest.raises(CheckpointError, match=message):
        load_authors_cnn(authors_file(tmp_path, small_authors_state(), settings))


def test_a_transcoder_needs_settings_naming_its_mel(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="no model_settings.yaml"):
        load_authors_transcoder(authors_file(tmp_path, small_authors_state()))
    with pytest.raises(CheckpointError, match="mels_type 'VGGish'"):
        load_authors_transcoder(authors_file(tmp_path, small_authors_state(), SETTINGS + "mels_type: VGGish\n"))


def test_clip_top1_agreement_averages_each_clips_scores_first() -> None:
    # clip 0: chunk tops differ (class 1, then 2) but the mean's top is class 2 on both sides
    ref = np.array([[0.1, 0.6, 0.5], [0.1, 0.2, 0.9], [0.9, 0.1, 0.0]])
    est = np.array([[0.1, 0.1, 0.8], [0.1, 0.2, 0.7], [0.0, 0.9, 0.1]])
    clips = np.array([0, 0, 1])
    assert clip_top1_agreement(ref, est, clips) == 0.5  # clip 0 agrees, clip 1 does not
    assert clip_top1_agreement(ref, ref, clips) == 1.0
    with pytest.raises(ValueError, match="score rows"):
        clip_top1_agreement(ref, est[:2], clips)


def test_third_octave_chunks_must_be_whole_hops() -> None:
    with pytest.raises(ValueError, match="multiple of hop=4000"):
        ThirdOctaveParams(chunk=30000)


@needs_reference
@pytest.mark.parametrize("name", sorted(CHECKPOINTS))
def test_the_published_checkpoints_load_strictly(name: str) -> None:
    path = MODELS / CHECKPOINTS[name]
    transcoder = load_authors_transcoder(path)
    state = torch.load(path, map_location="cpu", weights_only=True)
    ours = transcoder.cnn.state_dict()
    assert len(state) == 10 and set(ours) == {"net." + k[len("mod_conv.") :] for k in state} | {"offset", "scale"}
    assert all(torch.equal(ours["net." + k[len("mod_conv.") :]], v) for k, v in state.items())
    assert transcoder.mel == ("logmel_yamnet" if name.startswith("yamnet") else "logmel_pann")
    x = torch.rand(2, 8, 29) * 60 - 30
    with torch.no_grad():
        assert transcoder(x).shape == (2, 96 if name.startswith("yamnet") else 101, 64)
        assert torch.allclose(transcoder(x), their_forward(state, transcoder.pinv(x)), atol=1e-3)


@pytest.fixture(scope="module")
def ref() -> dict[str, np.ndarray]:
    with np.load(REF / "reference_outputs.npz") as f:
        return {k: f[k] for k in f.files}


@needs_reference
def test_waveforms_and_third_octaves_equal_theirs(ref: dict[str, np.ndarray]) -> None:
    x32, x16 = clip_waves(CLIP)
    assert np.array_equal(x32, ref["waveform_32k"]) and np.array_equal(x16, ref["waveform_16k"])
    assert np.abs(third_octave_chunks(x32).numpy() - ref["third_octave"]).max() <= 1e-4  # measured 0
    # the feature store's path: the whole 10 s clip in float32, framed per 1 s chunk (measured 7.6e-6 dB)
    store = ThirdOctave()(torch.from_numpy(x32)).numpy().reshape(10, 8, 29)
    assert np.abs(store - ref["third_octave"]).max() <= 1e-4
    # framing across the seconds instead moves each second's last frame by up to 0.2 dB
    across = ThirdOctave(ThirdOctaveParams(chunk=None))(torch.from_numpy(x32)).numpy().reshape(10, 8, 29)
    assert np.abs(across - ref["third_octave"])[:, :7].max() <= 1e-4 < np.abs(across - ref["third_octave"]).max()


@needs_reference
def test_pinv_and_cnn_outputs_equal_theirs(ref: dict[str, np.ndarray]) -> None:
    transcoder = load_authors_transcoder(MODELS / CHECKPOINTS["yamnet_logits"])
    x = torch.from_numpy(ref["third_octave"])
    with torch.no_grad():
        pinv = transcoder.pinv(x).numpy()
        cnn = transcoder(x).numpy()
        on_their_pinv = transcoder.cnn(torch.from_numpy(ref["mel_yamnet_pinv"])).numpy()
        cnn64, k = transcoder.cnn.double(), slice(7, 8)  # float64 convs are slow: the chunk of the largest difference
        exact_on = [cnn64(torch.from_numpy(p[k]).double()).numpy() for p in (ref["mel_yamnet_pinv"], pinv)]
    assert np.abs(pinv - ref["mel_yamnet_pinv"]).max() <= 1e-4  # measured 9.5e-7 (float32 round-off)
    theirs = ref["mel_yamnet_cnn_transcoded"]
    d = np.abs(cnn - theirs)
    assert d.max() <= 5e-4 and d.mean() <= 5e-6 and (d > 1e-4).mean() < 0.005  # measured 2.8e-4, 1.5e-6, 0.15 %
    # why above 1e-4: the CNN's local gain is ~4e3, so the PINV's float32 round-off (<= 9.5e-7) alone moves the
    # exact (float64) output by 2.9e-4, and the float32 convolutions add their own: on their very PINV ours is
    # 1.0e-4 from theirs, and their float32 output is 2.8e-4 from the float64 one
    assert np.abs(exact_on[0] - exact_on[1]).max() > 1e-4
    assert np.abs(on_their_pinv - theirs).max() <= 2e-4 and np.abs(exact_on[0] - theirs[k]).max() <= 5e-4
    # the README's sanity figures, against their teacher Mel
    mse = lambda a: float(np.mean((a - ref["mel_yamnet_groundtruth"]) ** 2))  # noqa: E731
    assert mse(cnn) == pytest.approx(1.082, abs=1e-3) and mse(pinv) == pytest.approx(2.545, abs=1e-3)
    # our own (calibrated) PINV is another function of the same levels
    ours = PinvTranscoder("logmel_yamnet", 96)(x).numpy()
    assert np.abs(ours - ref["mel_yamnet_pinv"]).mean() > 0.5


@needs_reference
def test_their_teacher_mel_and_where_googles_differs(ref: dict[str, np.ndarray]) -> None:
    theirs = ref["mel_yamnet_groundtruth"]
    assert np.abs(authors_teacher_mel(ref["waveform_16k"]).numpy() - theirs).max() <= 1e-4  # measured 0
    google = google_teacher_mel(ref["waveform_16k"]).numpy()
    assert np.abs(google - theirs).mean() > 0.3  # YAMNet's own front end: 0.41 nats on average, 4.8 at most
    # almost all of it is the framing (centred with reflect padding vs uncentred): their framing with
    # Google's mel matrix stays within 0.011 nats of their Mel
    x = torch.from_numpy(ref["waveform_16k"]).reshape(10, 16000)
    kw = dict(n_fft=512, hop_length=160, win_length=400, window=torch.hann_window(400), return_complex=True)
    mag = torch.stft(x, center=True, pad_mode="reflect", **kw).abs().transpose(1, 2)[:, :96]
    framing_only = torch.log(mag @ torch.from_numpy(tf_mel_matrix()) + 1e-3).numpy()
    assert np.abs(framing_only - theirs).max() < 0.02
