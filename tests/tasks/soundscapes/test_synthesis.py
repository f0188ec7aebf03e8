"""Tests for image-driven Scaper soundscape synthesis (tasks.soundscapes.synthesis)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jams
import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from tasks.datasets.cityscapes import TRAIN_CLASSES
from tasks.procedural.sound_library import build_sound_library
from tasks.soundscapes.synthesis import (
    SoundscapeParams,
    choose_labels,
    load_mapping,
    seed_for,
    synthesize_all,
    synthesize_for_image,
    synthesize_image,
)

ROOT = Path(__file__).resolve().parents[3]
MAPPING = ROOT / "configs" / "soundscape_mapping.yaml"
SR = 16000
# Short soundscapes for speed; the distributions keep the default shapes (event time centred at 2/3 of
# the soundscape like 20 s of 30 s), event durations are scaled to the library's clip lengths.
PARAMS = SoundscapeParams(duration=8.0, event_time=(5.0, 2.5), event_duration=(1.5, 2.5), seed=11)
LIB_LABELS = {
    "foreground": ["bicycle", "bus", "car", "motorcycle", "person", "traffic light", "train", "truck"],
    "background": ["person", "road", "vegetation"],
}
STREET = {"road": 0.40, "vegetation": 0.15, "car": 0.12, "person": 0.03, "sky": 0.20, "building": 0.10}
SKY_ONLY = {"sky": 0.6, "building": 0.4}


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_sound_library(
        tmp_path_factory.mktemp("lib") / "library",
        clips_per_label=2,
        sample_rate=SR,
        event_duration=(3.0, 4.0),
        background_duration=10.0,
        progress=False,
    )


@pytest.fixture(scope="module")
def mapping():
    return load_mapping(MAPPING)


# --------------------------------------------------------------------------- #
# Parameters                                                                  #
# --------------------------------------------------------------------------- #


def test_params_defaults_are_the_spec() -> None:
    p = SoundscapeParams()
    assert p.duration == 30.0 and p.ref_db == -3.0
    assert p.bg_source_time == (20.0, 8.0)
    assert p.n_events == (4, 7)
    assert p.event_time == (20.0, 9.0) and p.source_time == 0.0
    assert p.event_duration == (12.0, 16.0) and p.snr == (3.0, 5.0)
    assert not p.pitch_shift and p.pitch_shift_range == (-0.2, 0.2)
    assert not p.time_stretch and p.time_stretch_range == (0.5, 1.0)
    assert p.reverb == 0.1 and p.peak_normalization
    assert p.soundscapes_per_image == 3 and p.min_pixel_fraction == 0.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.duration = 10.0  # type: ignore[misc]
    assert SoundscapeParams.from_dict({"snr": [1, 2], "n_events": [1, 2]}).snr == (1.0, 2.0)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"duration": 0}, "duration"),
        ({"n_events": (5, 4)}, "n_events"),
        ({"n_events": (1.5, 4)}, "n_events"),
        ({"event_duration": (0.0, 1.0)}, "event_duration"),
        ({"snr": (5.0, 3.0)}, "snr"),
        ({"reverb": 2.0}, "reverb"),
        ({"soundscapes_per_image": 0}, "soundscapes_per_image"),
        ({"min_pixel_fraction": 1.5}, "min_pixel_fraction"),
        ({"seed": -1}, "seed"),
        ({"event_time": (20.0, -1.0)}, "event_time"),
    ],
)
def test_invalid_params_name_the_field(kwargs: dict, name: str) -> None:
    with pytest.raises(ValueError, match=name):
        SoundscapeParams(**kwargs)
    with pytest.raises(ValueError, match="colour"):
        SoundscapeParams.from_dict({"colour": 1})


def test_seed_is_stable_and_distinct() -> None:
    assert seed_for(0, "img", 0) == seed_for(0, "img", 0)
    assert len({seed_for(0, "img", 0), seed_for(0, "img", 1), seed_for(1, "img", 0), seed_for(0, "img2", 0)}) == 4
    assert 0 <= seed_for(123, "aachen_000000_000019", 2) < 2**32


# --------------------------------------------------------------------------- #
# Mapping                                                                     #
# --------------------------------------------------------------------------- #


def test_shipped_mapping(mapping) -> None:
    assert set(mapping) == set(TRAIN_CLASSES)
    assert mapping["car"].foreground == "car" and mapping["car"].background is None
    assert mapping["road"].background == "road" and mapping["road"].foreground is None
    assert mapping["vegetation"].background == "vegetation"
    assert mapping["person"].foreground == "person"
    assert mapping["traffic light"].foreground == "traffic light"
    for silent in ("sky", "building"):
        assert mapping[silent].foreground is None and mapping[silent].background is None
    # every label it uses exists in the procedural library
    for role in ("foreground", "background"):
        assert mapping.labels(role) <= set(LIB_LABELS[role])
    assert load_mapping(MAPPING, LIB_LABELS) == mapping


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        ("cars: {foreground: car}\n", ["entry 'cars'", "did you mean 'car'"]),
        ("car: {foreground: lorry}\n", ["entry 'car'", "'lorry'"]),
        ("car: {foreground: road}\n", ["entry 'car'", "foreground label 'road'"]),  # not a library fg label
        ("car: {sound: car}\n", ["entry 'car'", "unknown keys"]),
        ("car: car\n", ["entry 'car'", "must be empty or a mapping"]),
        ("car: {foreground: car}\ncar: {foreground: bus}\n", ["duplicate entry 'car'"]),
        ("car: [unclosed\n", ["invalid YAML"]),
        ("- car\n", ["expected a mapping"]),
    ],
)
def test_mapping_errors_name_file_and_entry(tmp_path: Path, text: str, fragments: list[str]) -> None:
    path = tmp_path / "my_mapping.yaml"
    path.write_text(text)
    with pytest.raises(ValueError) as err:
        load_mapping(path, LIB_LABELS)
    message = str(err.value)
    assert "my_mapping.yaml" in message
    for fragment in fragments:
        assert fragment in message


def test_mapping_checked_against_library_labels_only_when_given(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("road: {background: road}\ntrain: {foreground: train}\nsky: ~\nwall: {}\n")
    assert load_mapping(path)["train"].foreground == "train"  # an original library label
    with pytest.raises(ValueError, match="entry 'train'"):
        load_mapping(path, {"foreground": ["car"], "background": ["road"]})


# --------------------------------------------------------------------------- #
# Label choice                                                                #
# --------------------------------------------------------------------------- #


def test_dominant_background_and_other_foregrounds(mapping) -> None:
    bg, fg, notes = choose_labels(STREET, mapping, LIB_LABELS)
    assert bg == "road"
    assert fg == ["car", "person"]  # ordered by pixel count
    text = " ".join(notes)
    assert "sky" in text and "building" in text  # skipped, and said so
    assert "vegetation" in text  # its background sound lost to the road's
    # the biggest class with a background sound wins
    bg, fg, _ = choose_labels({"vegetation": 0.5, "road": 0.2, "bus": 0.1}, mapping, LIB_LABELS)
    assert (bg, fg) == ("vegetation", ["bus"])


def test_classes_without_sound_are_skipped(mapping) -> None:
    bg, fg, notes = choose_labels({"sky": 0.7, "building": 0.2, "car": 0.1}, mapping, LIB_LABELS)
    assert bg is None and fg == ["car"]
    assert any("background" in n for n in notes)
    # the same foreground label from two classes is listed once
    bg, fg, _ = choose_labels({"road": 0.5, "bicycle": 0.1, "rider": 0.05}, mapping, LIB_LABELS)
    assert (bg, fg) == ("road", ["bicycle"])


def test_nothing_mapped_gives_no_labels_and_a_note(mapping) -> None:
    bg, fg, notes = choose_labels(SKY_ONLY, mapping, LIB_LABELS)
    assert bg is None and fg == []
    assert notes and "no soundscape" in notes[-1].lower() and "sky" in notes[-1]
    # sounds missing from the library count as unmapped, and are reported
    bg, fg, notes = choose_labels({"car": 0.5}, mapping, {"foreground": ["bus"], "background": ["road"]})
    assert bg is None and fg == []
    assert any("'car'" in n and "missing" in n for n in notes)
    bg, fg, notes = choose_labels({}, mapping, LIB_LABELS)
    assert bg is None and fg == [] and notes


def test_min_pixel_fraction_and_plain_dict_mapping() -> None:
    plain = {"road": {"background": "road"}, "car": {"foreground": "car"}, "bus": {"foreground": "bus"}}
    fractions = {"road": 0.6, "car": 0.05, "bus": 0.0005}
    assert choose_labels(fractions, plain, LIB_LABELS, 0.0)[:2] == ("road", ["car", "bus"])
    assert choose_labels(fractions, plain, LIB_LABELS, 0.001)[:2] == ("road", ["car"])
    assert choose_labels({"road": 0.0, "car": 0.0}, plain, LIB_LABELS)[:2] == (None, [])


def test_bad_fractions_are_rejected(mapping) -> None:
    with pytest.raises(ValueError, match="'cars'"):
        choose_labels({"cars": 0.1}, mapping, LIB_LABELS)
    with pytest.raises(ValueError, match="'car'"):
        choose_labels({"car": float("nan")}, mapping, LIB_LABELS)


# --------------------------------------------------------------------------- #
# End to end                                                                  #
# --------------------------------------------------------------------------- #


def _scaper_ann(path: Path) -> jams.Annotation:
    return jams.load(str(path), validate=False).annotations.search(namespace="scaper")[0]


@pytest.fixture(scope="module")
def two_images(tmp_path_factory: pytest.TempPathFactory, library: Path) -> tuple[Path, pd.DataFrame]:
    tmp = tmp_path_factory.mktemp("e2e")
    rows = [{"image": "data/leftImg8bit/street_01.png", **STREET}, {"image": "data/empty/sky_02.png", **SKY_ONLY}]
    table = pd.DataFrame(rows).fillna(0.0)
    csv = tmp / "fractions.csv"
    table.to_csv(csv, index=False)
    out = tmp / "soundscapes"
    return out, synthesize_all(csv, MAPPING, library, out, PARAMS)


def test_summary(two_images: tuple[Path, pd.DataFrame]) -> None:
    out, summary = two_images
    assert list(summary.columns) == ["image", "n_soundscapes", "background", "foreground", "note"]
    street, sky = summary.to_dict("records")
    assert street["image"] == "data/leftImg8bit/street_01.png" and street["n_soundscapes"] == 3
    assert street["background"] == "road" and street["foreground"] == "car;person"
    assert sky["n_soundscapes"] == 0 and "no soundscape" in sky["note"].lower()
    on_disk = pd.read_csv(out / "summary.csv", keep_default_na=False)
    assert on_disk.to_dict("records") == summary.to_dict("records")


def test_soundscape_files_and_annotations(two_images: tuple[Path, pd.DataFrame]) -> None:
    out, _ = two_images
    mapped = {"road", "car", "person"}
    for n in range(3):
        wav = out / f"street_01_soundscape_{n}.wav"
        info = sf.info(str(wav))
        assert info.samplerate == SR and info.channels == 1
        assert info.frames == int(PARAMS.duration * SR)
        audio, _ = sf.read(str(wav))
        assert 0.1 < np.max(np.abs(audio)) <= 1.0  # peak-normalised (then reverb)

        ann = _scaper_ann(out / f"street_01_soundscape_{n}.jams")
        sandbox = ann.sandbox.scaper
        assert sandbox["ref_db"] == -3.0 and sandbox["reverb"] == 0.1 and sandbox["peak_normalization"]
        assert sandbox["sr"] == SR and sandbox["duration"] == PARAMS.duration
        assert sandbox["audio_path"] == str(wav)
        events = [o.value for o in ann.data if o.value["role"] == "foreground"]
        backgrounds = [o.value for o in ann.data if o.value["role"] == "background"]
        assert [b["label"] for b in backgrounds] == ["road"]
        assert 4 <= len(events) <= 7 and sandbox["n_events"] == len(events)
        assert {e["label"] for e in events} <= {"car", "person"}
        assert {e["label"] for e in events} | {"road"} <= mapped
        for e in events:
            assert 3.0 <= e["snr"] <= 5.0
            assert 1.5 <= e["event_duration"] <= 2.5
            assert e["source_time"] == 0.0
            assert e["pitch_shift"] is None and e["time_stretch"] is None
            assert 0.0 <= e["event_time"] and e["event_time"] + e["event_duration"] <= PARAMS.duration + 1e-6
        assert ann.sandbox.soundflow["foreground_labels"] == ["car", "person"]

        lines = (out / f"street_01_soundscape_{n}.txt").read_text().splitlines()
        assert len(lines) == len(events)
        for line, e in zip(lines, sorted(events, key=lambda e: e["event_time"])):
            onset, offset, label = line.split("\t")
            assert label == e["label"]
            assert float(onset) == pytest.approx(e["event_time"], abs=1e-5)
            assert float(offset) == pytest.approx(e["event_time"] + e["event_duration"], abs=1e-5)


def test_unmapped_image_gets_a_note_and_no_audio(two_images: tuple[Path, pd.DataFrame]) -> None:
    out, _ = two_images
    note = (out / "sky_02_soundscape_note.txt").read_text()
    assert "sky_02" in note and "no present class maps to a sound" in note.lower()
    assert not list(out.glob("sky_02*.wav")) and not list(out.glob("sky_02*.jams"))
    assert not list(out.glob(".*"))  # no temporaries left behind


def test_deterministic_and_seeded(tmp_path: Path, library: Path, mapping, two_images) -> None:
    out, _ = two_images
    params = dataclasses.replace(PARAMS, soundscapes_per_image=1)
    again = synthesize_for_image("street_01", STREET, mapping, library, tmp_path / "a", params)
    assert [p.name for p in again] == ["street_01_soundscape_0.wav"]
    assert again[0].read_bytes() == (out / "street_01_soundscape_0.wav").read_bytes()
    reseeded = dataclasses.replace(params, seed=12)
    other = synthesize_for_image("street_01", STREET, mapping, library, tmp_path / "b", reseeded)
    assert other[0].read_bytes() != again[0].read_bytes()


def test_rerun_replaces_stale_outputs(tmp_path: Path, library: Path, mapping) -> None:
    params = dataclasses.replace(PARAMS, soundscapes_per_image=1, reverb=None)
    assert synthesize_for_image("img", {"road": 0.5}, mapping, library, tmp_path, params)  # background only
    assert (tmp_path / "img_soundscape_0.wav").exists()
    assert synthesize_for_image("img", SKY_ONLY, mapping, library, tmp_path, params) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["img_soundscape_note.txt"]


def test_background_only_and_short_sources(tmp_path: Path, library: Path, mapping) -> None:
    params = dataclasses.replace(PARAMS, soundscapes_per_image=1, reverb=None)
    wav = synthesize_for_image("bg", {"road": 0.9}, mapping, library, tmp_path, params)[0]
    ann = _scaper_ann(wav.with_suffix(".jams"))
    assert [o.value["role"] for o in ann.data] == ["background"]
    # event durations beyond the clips' 3-4 s: Scaper takes the whole clip, and the summary says so
    long_events = dataclasses.replace(params, event_duration=(6.0, 7.0))
    result = synthesize_image("long", {"road": 0.5, "car": 0.2}, mapping, library, tmp_path, long_events)
    ann = _scaper_ann(result.wav_paths[0].with_suffix(".jams"))
    durations = [o.value["event_duration"] for o in ann.data if o.value["role"] == "foreground"]
    assert durations and all(3.0 - 1e-3 <= d <= 4.0 + 1e-3 for d in durations)
    assert any("source clip" in n for n in result.notes)


def test_backgrounds_shorter_than_the_soundscape_are_refused(tmp_path: Path, library: Path, mapping) -> None:
    with pytest.raises(ValueError, match="shorter than the soundscape duration"):
        synthesize_for_image("x", STREET, mapping, library, tmp_path, dataclasses.replace(PARAMS, duration=12.0))
    assert not list(tmp_path.glob("*.wav"))


def test_csv_errors_name_the_file(tmp_path: Path, library: Path) -> None:
    csv = tmp_path / "fractions.csv"
    pd.DataFrame([{"image": "a.png", "cars": 0.5}]).to_csv(csv, index=False)
    with pytest.raises(ValueError, match="fractions.csv.*'cars'"):
        synthesize_all(csv, MAPPING, library, tmp_path / "out", PARAMS)
    pd.DataFrame([{"image": "x/a.png", "car": 0.5}, {"image": "y/a.jpg", "car": 0.2}]).to_csv(csv, index=False)
    with pytest.raises(ValueError, match="share the stem"):
        synthesize_all(csv, MAPPING, library, tmp_path / "out", PARAMS)
    pd.DataFrame([{"car": 0.5}]).to_csv(csv, index=False)
    with pytest.raises(ValueError, match="'image'"):
        synthesize_all(csv, MAPPING, library, tmp_path / "out", PARAMS)
