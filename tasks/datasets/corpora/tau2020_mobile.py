"""TAU Urban Acoustic Scenes 2020 Mobile, development set (DCASE 2020 task 1A; Heittola et al.).

10-second binaural-downmixed clips of 10 acoustic scenes (airport, shopping_mall, metro_station,
street_pedestrian, public_square, street_traffic, tram, bus, metro, park) from 10 cities, recorded
with real devices A, B, C and simulated devices S1-S6: 23040 clips (64 h). The development set comes
as 16 audio zip parts, a doc zip and a meta zip; ``meta.csv`` (tab-separated: ``filename,
scene_label, identifier, source_label``) and ``evaluation_setup/fold1_{train,evaluate}.csv`` give
labels and the official train/evaluate split.

Source: Zenodo record 3819968; every md5 is Zenodo's (as also listed by soundata's loader). Sizes
left None.

Licence: free for academic, non-commercial use; copyright (c) 2020 Tampere University and its
licensors; commercial use prohibited (see the doc zip). Every clip is 10 s: ``duration`` 10.0.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tasks.datasets.registry import DatasetInfo, RemoteFile, find_one, register

CITATION = (
    "T. Heittola, A. Mesaros, T. Virtanen. Acoustic scene classification in DCASE 2020 Challenge: "
    "generalization across devices and low complexity solutions. Proceedings of the DCASE 2020 Workshop, 2020."
)
_NAME = "TAU-urban-acoustic-scenes-2020-mobile-development"
_BASE = "https://zenodo.org/record/3819968/files/"
_AUDIO_MD5 = (
    "b1e85b8a908d3d6a6ab73268f385d5c8",
    "4310a13cc2943d6ce3f70eba7ba4c784",
    "ed38956c4246abb56190c1e9b602b7b8",
    "97ab8560056b6816808dedc044dcc023",
    "b50f5e0bfed33cd8e52cb3e7f815c6cb",
    "fbf856a3a86fff7520549c899dc94372",
    "0dbffe7b6e45564da649378723284062",
    "bb6f77832bf0bd9f786f965beb251b2e",
    "a65596a5372eab10c78e08a0de797c9e",
    "2ad595819ffa1d56d2de4c7ed43205a6",
    "0ad29f7040a4e6a22cfd639b3a6738e5",
    "e5f4400c6b9697295fab4cf507155a2f",
    "8855ab9f9896422746ab4c5d89d8da2f",
    "092ad744452cd3e7de78f988a3d13020",
    "4b5eb85f6592aebf846088d9df76b420",
    "2e0a89723e58a3836be019e6996ae460",
)
FILES = tuple(
    RemoteFile(f"{_BASE}{_NAME}.audio.{k}.zip", f"{_NAME}.audio.{k}.zip", None, md5)
    for k, md5 in enumerate(_AUDIO_MD5, start=1)
) + (
    RemoteFile(f"{_BASE}{_NAME}.doc.zip", f"{_NAME}.doc.zip", None, "175f40dc3fec144347abad4d2962b7ae"),
    RemoteFile(f"{_BASE}{_NAME}.meta.zip", f"{_NAME}.meta.zip", None, "6eae9db553ce48e4ea246e34e50a3cf5"),
)
CLIP_SECONDS = 10.0


def prepare(root: Path) -> pd.DataFrame:
    """``path, label, split, device, city, duration`` (split: fold1 ``train``/``evaluate``, else ``unused``)."""
    root = Path(root)
    meta_csv = find_one(root, "**/meta.csv")
    meta = pd.read_csv(meta_csv, sep="\t")
    split = {}
    for name in ("train", "evaluate"):
        setup = meta_csv.parent / "evaluation_setup" / f"fold1_{name}.csv"
        if setup.is_file():
            split.update(dict.fromkeys(pd.read_csv(setup, sep="\t")["filename"], name))
    wavs = {p.name: p for p in root.glob(f"{_NAME}.audio.*/**/*.wav")}
    return pd.DataFrame(
        {
            "path": [str(wavs.get(Path(f).name, meta_csv.parent / f)) for f in meta["filename"]],
            "label": meta["scene_label"],
            "split": [split.get(f, "unused") for f in meta["filename"]],
            "device": meta["source_label"],
            "city": [Path(f).stem.split("-")[1] for f in meta["filename"]],
            "duration": CLIP_SECONDS,
        }
    ).sort_values("path", ignore_index=True)


INFO = register(
    DatasetInfo(
        name="tau2020_mobile",
        description="TAU Urban Acoustic Scenes 2020 Mobile development set: 10 scenes, 9 devices, 10 s clips",
        homepage="https://zenodo.org/record/3819968",
        licence="Tampere University licence: academic non-commercial use only",
        citation=CITATION,
        files=FILES,
        login=None,
        folder="tau2020_mobile",
        prepare=prepare,
    )
)
