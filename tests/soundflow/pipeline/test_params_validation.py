"""Bad parameter values are refused before any work: non-finite numbers, unknown models, absurd sizes.

Each case changes one key of the committed params.yaml and validates the whole file, so the real
schema is what is tested.
"""

import copy
import math
from pathlib import Path

import pytest

from soundflow.pipeline import cli
from soundflow.pipeline.config import ParamsError, load_params, parse_params, read_params_yaml, set_dotted

INF, NAN = math.inf, math.nan


@pytest.fixture(scope="module")
def committed(root: Path) -> dict:
    return read_params_yaml(root / "params.yaml")


def _set(raw: dict, key: str, value: object) -> None:
    if key.startswith("soundscapes.synthesis."):  # optional fields (sample_rate) are not in the committed file
        raw["soundscapes"]["synthesis"][key.rpartition(".")[2]] = value
    else:
        set_dotted(raw, key, value)


def _refused(committed: dict, key: str, value: object) -> str:
    raw = copy.deepcopy(committed)
    _set(raw, key, value)
    with pytest.raises(ParamsError) as err:
        parse_params(raw, Path("params.yaml"))
    return str(err.value)


def _accepted(committed: dict, **changes: object) -> None:
    raw = copy.deepcopy(committed)
    for key, value in changes.items():
        _set(raw, key.replace("__", "."), value)
    parse_params(raw, Path("params.yaml"))


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("aed.train.lr_start", INF, "aed.train.lr_start: must be a finite number (got inf)"),
        ("aed.train.lr_end", NAN, "aed.train.lr_end: must be a finite number (got nan)"),
        # a quoted YAML string, which pydantic would turn into a float
        ("aed.train.lr_start", "inf", "aed.train.lr_start: must be a finite number (got 'inf')"),
        ("aed.features.chunk_seconds", INF, "aed.features.chunk_seconds: must be a finite number"),
        ("aed.predict.overlap", INF, "aed.predict.overlap: must be a finite number"),
        ("data.urban_synth.duration", [2.0, INF], "data.urban_synth.duration.1: must be a finite number"),
        ("data.urban_synth.snr_db", [-INF, 20.0], "data.urban_synth.snr_db.0: must be a finite number (got -inf)"),
        ("data.sound_library.event_duration", [12.0, INF], "data.sound_library.event_duration.1: must be a finite"),
        ("features.clip_seconds", NAN, "features.clip_seconds: must be a finite number"),
        ("seg.train.lr", INF, "seg.train.lr: must be a finite number"),
        # an untyped mapping (the soundscape parameters): covered by the same check
        ("soundscapes.synthesis.ref_db", NAN, "soundscapes.synthesis.ref_db: must be a finite number"),
        ("soundscapes.synthesis.event_duration", [12.0, INF], "soundscapes.synthesis.event_duration.1: must be"),
        ("aed.train.epochs", INF, "aed.train.epochs: must be a finite number"),
    ],
)
def test_non_finite_numbers_are_refused_by_key(committed: dict, key: str, value: object, named: str) -> None:
    msg = _refused(committed, key, value)
    assert named in msg and msg.startswith(f"params.yaml: {named}") and "\n" not in msg  # one line


def test_yaml_infinities_and_nan_are_refused(tmp_path: Path, root: Path) -> None:
    text = (root / "params.yaml").read_text()
    for old, new in [
        ("lr_start: 1.0e-3", "lr_start: .inf"),
        ("lr_end: 1.0e-6", "lr_end: .nan"),
        ("snr_db: [0.0, 20.0]", "snr_db: [-.inf, 20.0]"),
    ]:
        assert old in text, old
        text = text.replace(old, new, 1)
    (tmp_path / "params.yaml").write_text(text)
    with pytest.raises(ParamsError) as err:
        load_params(tmp_path)
    msg = str(err.value)
    assert "3 invalid parameter(s)" in msg
    for line in (
        "aed.train.lr_start: must be a finite number (got inf)",
        "aed.train.lr_end: must be a finite number (got nan)",
        "data.urban_synth.snr_db.0: must be a finite number (got -inf)",
    ):
        assert line in msg


def test_unknown_model_name_is_refused(committed: dict) -> None:
    msg = _refused(committed, "aed.model.name", "aed_cnn2")
    assert "aed.model.name" in msg and "unknown model 'aed_cnn2'" in msg and "aed_cnn" in msg


def test_a_registered_network_that_is_no_classifier_is_refused(committed: dict) -> None:
    msg = _refused(committed, "aed.model.name", "erfnet")
    assert "aed.model.name" in msg and "not an audio event classifier" in msg


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("seg.data.image_size", [50000, 50000]),  # passed before and died in a MemoryError
        ("seg.data.image_size", [512, 8192]),
        ("data.street_scenes.height", 50000),
        ("data.street_scenes.width", 50000),
        ("data.street_scenes.n_train", 10**7),
        ("aed.features.n_freq_bins", 100_000),
        ("aed.features.n_frames", 100_000),
        ("aed.features.sample_rate", 1_000_000),
        ("aed.features.chunk_seconds", 3600.0),
        ("aed.features.window_seconds", 3600.0),
        ("data.urban_synth.sample_rate", 1_000_000),
        ("data.urban_synth.clips_per_class", 10**7),
        ("data.urban_synth.duration", [2.0, 10**5]),
        ("data.sound_library.sample_rate", 1_000_000),
        ("data.sound_library.clips_per_label", 10**7),
        ("data.sound_library.background_duration", 10**6),
        ("aed.train.epochs", 10**7),
        ("aed.train.batch_size", 10**7),
        ("aed.model.width", 10**5),
        ("seg.train.epochs", 10**7),
        ("seg.train.batch_size", 10**7),
        ("seg.predict.batch_size", 10**7),
        ("features.clip_seconds", 10**6),
        ("features.shard_size", 10**9),
        ("soundscapes.synthesis.duration", 10**6),
        ("soundscapes.synthesis.soundscapes_per_image", 10**7),
        ("soundscapes.synthesis.n_events", [4, 10**7]),
        ("soundscapes.synthesis.sample_rate", 1_000_000),
    ],
)
def test_absurd_sizes_are_refused(committed: dict, key: str, value: object) -> None:
    msg = _refused(committed, key, value)
    # the key, or the end of a range (duration.1), first on its one line or in the list of several problems
    assert any(f"{lead}{key}{end}" in msg for lead in ("params.yaml: ", "  ") for end in (": ", "."))


def test_the_papers_sizes_are_accepted(committed: dict) -> None:
    # the papers' values (docs/methods.md) and real datasets' sizes must all fit the bounds
    _accepted(
        committed,
        seg__data__image_size=[512, 1024],
        seg__train__epochs=70,
        seg__train__batch_size=8,
        aed__model__width=64,
        aed__train__epochs=55,
        aed__train__batch_size=32,
        aed__features__sample_rate=44100,
        aed__features__n_freq_bins=256,
        aed__features__n_frames=512,
        data__street_scenes__height=1024,
        data__street_scenes__width=2048,
        data__street_scenes__n_train=2975,
        data__urban_synth__clips_per_class=1000,
    )
    _accepted(
        committed,
        seg__data__image_size=[1024, 2048],
        aed__features__sample_rate=192_000,
        aed__features__chunk_seconds=60.0,
        data__sound_library__sample_rate=192_000,
        soundscapes__synthesis__sample_rate=48_000,
    )


def test_cli_params_refuses_an_infinite_learning_rate(
    tmp_path: Path, root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    text = (root / "params.yaml").read_text().replace("lr_start: 1.0e-3", "lr_start: .inf", 1)
    (tmp_path / "params.yaml").write_text(text)
    (tmp_path / "dvc.yaml").write_text((root / "dvc.yaml").read_text())
    monkeypatch.chdir(tmp_path)
    assert cli.main(["params"]) == 2
    assert "aed.train.lr_start: must be a finite number (got inf)" in capsys.readouterr().err
