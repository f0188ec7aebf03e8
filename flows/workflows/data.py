"""The data workflow: what the other workflows start from (registered and procedural datasets, feature stores).

Its stages, its flow and its params sections; found by the registry (soundflow.pipeline.stages).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from soundflow.params_base import Strict
from soundflow.pipeline.stage import Stage, Workflow
from tasks.datasets.params import DownloadParams
from tasks.features.params import FeatureParams
from tasks.procedural.params import SoundLibraryParams, StreetScenesParams, UrbanSynthParams

if TYPE_CHECKING:
    from soundflow.pipeline.params_view import ParamsView

DATASETS = "data/datasets"  # not data/raw: that folder is data.dvc's, and a stage must not write into it
DATASETS_INDEX = f"{DATASETS}/datasets.json"
URBAN_SYNTH = "data/generated/urban_synth"
FEATURE_STORES = "data/features/store"  # <dataset>/<representation>/ per feature set
FEATURES_SUMMARY = "reports/features/summary.json"
FEATURES_EXAMPLES = "reports/features/examples.png"
STREET_SCENES = "data/generated/street_scenes"
SOUND_LIBRARY = "data/generated/sound_library"
FEATURE_SOURCES = ("urban_synth", "street_scenes")  # datasets the pipeline makes; others come from data.download


class DataParams(Strict):
    """``data:``: the procedural datasets' generators and the registered datasets to fetch."""

    urban_synth: UrbanSynthParams
    street_scenes: StreetScenesParams
    sound_library: SoundLibraryParams
    download: DownloadParams


def check_feature_sources(params: Any) -> None:
    """Every feature set's dataset is made here: a procedural one, or one listed in data.download."""
    for i, s in enumerate(params.features.sets):
        if s.dataset not in FEATURE_SOURCES and s.dataset not in params.data.download.datasets:
            raise ValueError(
                f"features.sets.{i}.dataset: {s.dataset!r} is neither one of {', '.join(FEATURE_SOURCES)} "
                f"nor listed in data.download.datasets ({params.data.download.datasets})"
            )


def _datasets(p: ParamsView, root: Path) -> object:
    from tasks.datasets.fetch import fetch_listed

    d = p.data.download
    return fetch_listed(d.datasets, root / DATASETS, root / DATASETS_INDEX, root=root, base_url=d.base_url)


def _urban_synth(p: ParamsView, root: Path) -> object:
    from tasks.procedural.urban_sounds import generate_dataset

    s = p.data.urban_synth
    return generate_dataset(
        root / URBAN_SYNTH,
        clips_per_class=s.clips_per_class,
        n_folds=s.n_folds,
        sample_rate=s.sample_rate,
        duration_range=s.duration,
        snr_db_range=s.snr_db,
        seed=s.seed,
    )


def _features(p: ParamsView, root: Path) -> object:
    from tasks.features.build import FeatureSources, build_feature_sets

    sources = FeatureSources(root, URBAN_SYNTH, STREET_SCENES, DATASETS_INDEX)
    return build_feature_sets(
        p.features, p.aed.features, sources, root / FEATURE_STORES, root / FEATURES_SUMMARY, root / FEATURES_EXAMPLES
    )


def _street_scenes(p: ParamsView, root: Path) -> object:
    from tasks.procedural.street_scenes import generate_street_scenes

    s = p.data.street_scenes
    return generate_street_scenes(
        root / STREET_SCENES,
        n_train=s.n_train,
        n_val=s.n_val,
        n_test=s.n_test,
        height=s.height,
        width=s.width,
        seed=s.seed,
    )


def _sound_library(p: ParamsView, root: Path) -> object:
    from tasks.procedural.sound_library import build_sound_library

    s = p.data.sound_library
    return build_sound_library(
        root / SOUND_LIBRARY,
        clips_per_label=s.clips_per_label,
        sample_rate=s.sample_rate,
        event_duration=s.event_duration,
        background_duration=s.background_duration,
        seed=s.seed,
    )


WORKFLOW = Workflow(
    name="data",
    doc="The data every workflow starts from: registered datasets, procedural datasets, feature stores",
    sections={"data": DataParams, "features": FeatureParams},
    check=check_feature_sources,
    stages=(
        Stage(
            name="datasets",
            desc="Fetch, verify, extract and index the registered datasets listed in data.download",
            run=_datasets,
            deps=(),
            params=("data.download",),
            outs=(DATASETS,),
            persist=(DATASETS,),
        ),
        Stage(
            name="urban_synth",
            desc="Generate the procedural urban-sound dataset (UrbanSound8K layout)",
            run=_urban_synth,
            deps=(),
            params=("data.urban_synth",),
            outs=(URBAN_SYNTH,),
        ),
        Stage(
            name="features",
            desc="HDF5 feature stores (log-mel, third-octave, spectrogram chunks, frames) of the listed datasets",
            run=_features,
            deps=(URBAN_SYNTH, STREET_SCENES, DATASETS),
            params=("features", "aed.features"),
            outs=(FEATURE_STORES,),
            persist=(FEATURE_STORES,),
            metrics=(FEATURES_SUMMARY,),
            plots=(FEATURES_EXAMPLES,),
        ),
        Stage(
            name="street_scenes",
            desc="Generate procedural street scenes with label maps (Cityscapes layout)",
            run=_street_scenes,
            deps=(),
            params=("data.street_scenes",),
            outs=(STREET_SCENES,),
        ),
        Stage(
            name="sound_library",
            desc="Build a Scaper sound library (foreground events, background ambiences) from procedural sounds",
            run=_sound_library,
            deps=(),
            params=("data.sound_library",),
            outs=(SOUND_LIBRARY,),
        ),
    ),
)
