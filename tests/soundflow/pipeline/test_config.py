from pathlib import Path

import pytest

from soundflow.pipeline.config import ParamsError, flatten, load_params, parse_params, read_params_yaml, set_dotted


def test_committed_params_are_valid(root: Path) -> None:
    p = load_params(root)
    assert p.aed.features.chunk_seconds == 3.0
    assert p.aed.train.lr_start == 1e-3 and p.aed.train.beta1 == 0.5 and p.aed.train.seed == 1337


def _raw(root: Path) -> dict:
    return read_params_yaml(root / "params.yaml")


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("aed.train.epochs", 0, "aed.train.epochs"),
        ("aed.features.window", "hamming", "aed.features.window"),
        ("aed.data.val_fraction", 1.5, "aed.data.val_fraction"),
        ("data.urban_synth.duration", [3.0, 1.0], "data.urban_synth.duration"),
        ("aed.features.chunk_hop_seconds", 5.0, "chunk_hop_seconds must not exceed"),
    ],
)
def test_bad_value_is_named(root: Path, key: str, value: object, expected: str) -> None:
    raw = _raw(root)
    set_dotted(raw, key, value)
    with pytest.raises(ParamsError, match=expected) as err:
        parse_params(raw, Path("params.yaml"))
    assert "params.yaml" in str(err.value)


def test_unknown_key_is_refused(root: Path) -> None:
    raw = _raw(root)
    raw["aed"]["train"]["epoch"] = 3  # typo of "epochs"
    with pytest.raises(ParamsError, match=r"aed\.train\.epoch: Extra inputs are not permitted"):
        parse_params(raw, Path("params.yaml"))


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ParamsError, match="not found"):
        load_params(tmp_path)
    (tmp_path / "params.yaml").write_text("aed: [unclosed\n")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(tmp_path)


def test_flatten_and_set_dotted() -> None:
    raw = {"a": {"b": 1, "c": {"d": [1, 2]}}}
    assert flatten(raw) == {"a.b": 1, "a.c.d": [1, 2]}
    set_dotted(raw, "a.c.d", 5)
    assert raw["a"]["c"]["d"] == 5
    with pytest.raises(KeyError):
        set_dotted(raw, "a.x", 1)
