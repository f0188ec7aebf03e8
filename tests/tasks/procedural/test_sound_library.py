"""Tests for the procedural Scaper sound library (tasks.procedural.sound_library)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from tasks.datasets.sound_library import LIBRARY_LABELS, library_labels
from tasks.procedural.sound_library import BACKGROUND_LABELS, FOREGROUND_LABELS, build_sound_library, clips, writer

SR = 16000
SMALL = dict(clips_per_label=2, sample_rate=SR, event_duration=(0.6, 1.2), background_duration=2.0, progress=False)


def _tree_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def small_library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_sound_library(tmp_path_factory.mktemp("lib") / "library", seed=3, **SMALL)


def test_labels_are_the_original_library_labels() -> None:
    assert set(FOREGROUND_LABELS) | set(BACKGROUND_LABELS) == set(LIBRARY_LABELS)
    assert {"road", "vegetation"} <= set(BACKGROUND_LABELS)


@pytest.mark.parametrize("label", FOREGROUND_LABELS)
def test_foreground_models_are_finite_and_peak_normalised(label: str) -> None:
    for k in range(3):
        x = clips.render_foreground(label, 1.5, SR, np.random.default_rng([0, k]))
        assert x.dtype == np.float32 and x.shape == (int(1.5 * SR),)
        assert np.all(np.isfinite(x))
        assert np.max(np.abs(x)) == pytest.approx(0.9, abs=1e-3)
        assert np.sqrt(np.mean(x.astype(np.float64) ** 2)) > 0.01  # not silent, not a lone click


def test_layout_counts_and_audio(small_library: Path) -> None:
    root = small_library
    assert library_labels(root) == {"foreground": sorted(FOREGROUND_LABELS), "background": sorted(BACKGROUND_LABELS)}
    assert (root / "foreground" / "traffic light").is_dir()  # Scaper labels are folder names, spaces kept
    for role, labels, (lo, hi) in (
        ("foreground", FOREGROUND_LABELS, SMALL["event_duration"]),
        ("background", BACKGROUND_LABELS, (2.0, 2.0)),
    ):
        for label in labels:
            files = sorted((root / role / label).glob("*.wav"))
            assert [f.name for f in files] == [f"{label.replace(' ', '_')}_{k:03d}.wav" for k in range(2)]
            for f in files:
                info = sf.info(str(f))
                assert info.samplerate == SR and info.channels == 1 and info.subtype == "PCM_16"
                assert lo - 1e-3 <= info.duration <= hi + 1e-3
                x, _ = sf.read(str(f))
                assert 0.01 < np.max(np.abs(x)) < 1.0
    readme = (root / "README.md").read_text(encoding="utf-8")
    assert "CC0" in readme and "| foreground | traffic light | 2 |" in readme and "| background | road | 2 |" in readme
    assert not [p for p in root.parent.iterdir() if p.name != root.name]  # no temporary siblings left


def test_deterministic_and_clip_independent_of_count(tmp_path: Path, small_library: Path) -> None:
    again = build_sound_library(tmp_path / "again", seed=3, **SMALL)
    assert _tree_bytes(again) == _tree_bytes(small_library)
    one = build_sound_library(tmp_path / "one", seed=3, **{**SMALL, "clips_per_label": 1})
    for rel, data in _tree_bytes(one).items():
        if rel.endswith(".wav"):
            assert data == (small_library / rel).read_bytes()
    other = build_sound_library(tmp_path / "other", seed=4, **{**SMALL, "clips_per_label": 1})
    car0 = Path("foreground", "car", "car_000.wav")
    assert (other / car0).read_bytes() != (one / car0).read_bytes()


def test_replaces_own_output_but_refuses_foreign_folders(tmp_path: Path) -> None:
    out = build_sound_library(tmp_path / "lib", **SMALL)
    rebuilt = build_sound_library(out, **{**SMALL, "clips_per_label": 1})
    assert len(list((rebuilt / "foreground" / "car").glob("*.wav"))) == 1  # the old tree is gone
    foreign = tmp_path / "precious"
    foreign.mkdir()
    (foreign / "thesis.txt").write_text("do not delete")
    with pytest.raises(FileExistsError, match="precious"):
        build_sound_library(foreign, **SMALL)
    assert (foreign / "thesis.txt").read_text() == "do not delete"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert build_sound_library(empty, **{**SMALL, "clips_per_label": 1}) == empty


def test_failed_build_leaves_previous_library_untouched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = build_sound_library(tmp_path / "lib", **{**SMALL, "clips_per_label": 1})
    before = _tree_bytes(out)

    def boom(*args: object, **kwargs: object) -> np.ndarray:
        raise RuntimeError("synthesis failed")

    monkeypatch.setattr(writer, "render_background", boom)
    with pytest.raises(RuntimeError, match="synthesis failed"):
        build_sound_library(out, seed=9, **{**SMALL, "clips_per_label": 1})
    assert _tree_bytes(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lib"]


def test_stale_temporary_of_a_dead_run_is_removed(tmp_path: Path) -> None:
    dead_pid = 2**22 + 12345  # above the default pid_max: no such process
    stale = tmp_path / f"lib.tmp-{dead_pid}"
    (stale / "foreground").mkdir(parents=True)
    build_sound_library(tmp_path / "lib", **{**SMALL, "clips_per_label": 1})
    assert not stale.exists()


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"clips_per_label": 0}, "clips_per_label"),
        ({"clips_per_label": 1.5}, "clips_per_label"),
        ({"clips_per_label": True}, "clips_per_label"),
        ({"sample_rate": 4000}, "sample_rate"),
        ({"event_duration": (3.0, 2.0)}, "event_duration"),
        ({"event_duration": (0.1, 1.0)}, "event_duration"),
        ({"event_duration": "long"}, "event_duration"),
        ({"background_duration": 0.0}, "background_duration"),
        ({"background_duration": float("nan")}, "background_duration"),
        ({"seed": -1}, "seed"),
    ],
)
def test_invalid_arguments_name_the_argument(tmp_path: Path, kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        build_sound_library(tmp_path / "lib", **{**SMALL, **kwargs})
    assert not (tmp_path / "lib").exists()
