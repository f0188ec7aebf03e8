"""SONYC Urban Sound Tagging v2 (SONYC-UST-V2; Cartwright et al., 2020), Zenodo release 2.3.

18510 ten-second recordings from the SONYC acoustic sensor network in New York City, tagged by
Zooniverse volunteers (three per clip) and, for a verified subset, by the SONYC team, with 23 fine
classes grouped into 8 coarse ones (engine, machinery-impact, non-machinery-impact, powered-saw,
alert-signal, music, human-voice, dog); splits ``train`` / ``validate`` / ``test`` and coarse
spatiotemporal context. ``annotations.csv`` holds one row per annotation (``annotator_id`` 0 is the
agreed ground truth); ``dcase-ust-taxonomy.yaml`` the taxonomy; audio in ``audio-<k>.tar.gz``.

Source: Zenodo record 3966543; the md5 of every file is Zenodo's (as also listed by soundata's
loader). Sizes left None.

Licence: Creative Commons Attribution 4.0 International (CC BY 4.0).

``prepare``: one row per recording, ``labels`` the ``;``-joined coarse classes — the ground truth
(annotator 0) where it exists, otherwise the union of the volunteers' tags ("minority vote", the
DCASE baseline's training target). Every recording is 10 s, so ``duration`` is 10.0.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tasks.datasets.registry import DatasetInfo, RemoteFile, find_one, register

CITATION = (
    "M. Cartwright, J. Cramer, A. E. M. Mendez, Y. Wang, H. Wu, V. Lostanlen, M. Fuentes, G. Dove, "
    "C. Mydlarz, J. Salamon, O. Nov, J. P. Bello. SONYC-UST-V2: An Urban Sound Tagging Dataset with "
    "Spatiotemporal Context. Proceedings of the DCASE 2020 Workshop. arXiv:2009.05188"
)
_BASE = "https://zenodo.org/record/3966543/files/"
_AUDIO_MD5 = (
    "bbb4dbae7d2e58e18d24878b9ee1eb51",
    "7c369ff37ac6a1fdd8493fdffe62e0a1",
    "412241c063d7f196953d3dd1c44aeb5e",
    "d2a872392d95993a2c238d305b940812",
    "b15b0e0cb3f8584259ef0d24293a9be3",
    "de745f887067433757a2f2c8f99f99bb",
    "b0286c67468369d66336f6f5ddede31f",
    "ff300183ab7a9d3f2f74c3b730ffeb52",
    "7be76b821fa6dbe20f6b50ca440e1024",
    "959f7edfbb26eadad9865069f38aa9dd",
    "84e94de273666c537a3e6b709ee88d9b",
    "44fe1f43121a7d1178aa0cdf7477793b",
    "a7eb21011f460b5ac289f8e285e875ab",
    "27945a8b1008eec787f97213164951e6",
    "fb8c7d81c3bde3a0c86c1e55e6a85a24",
    "f6af9b65d876ef96d199b9e5f0473cb9",
    "e8337c61a90c30989d500f950fbe443a",
    "3e47e85eb4564a30fe7f442ee97ec7b9",
    "c6b2ef4d0d5b7269d465c469cdbbdc4b",
)
FILES = tuple(
    RemoteFile(f"{_BASE}audio-{k}.tar.gz", f"audio-{k}.tar.gz", None, md5) for k, md5 in enumerate(_AUDIO_MD5)
) + (
    RemoteFile(f"{_BASE}annotations.csv", "annotations.csv", None, "70b507b15bb4cfcce4870925302f276b"),
    RemoteFile(f"{_BASE}dcase-ust-taxonomy.yaml", "dcase-ust-taxonomy.yaml", None, "6c1cca1c4c383a6ebb0cb71cb74fe3a9"),
)
CLIP_SECONDS = 10.0


def prepare(root: Path) -> pd.DataFrame:
    """``path, labels, split, sensor_id, verified, duration``; one row per recording."""
    root = Path(root)
    ann = pd.read_csv(find_one(root, "annotations.csv"))
    coarse = [c for c in ann.columns if c.endswith("_presence") and c.split("_", 1)[0].isdigit()]
    names = {c: c.split("_", 1)[1][: -len("_presence")] for c in coarse}
    wavs = {p.name: p for p in root.glob("audio-*/**/*.wav")}
    rows = []
    for fname, g in ann.groupby("audio_filename", sort=True):
        truth = g[g["annotator_id"] == 0]
        src = truth if len(truth) else g[g["annotator_id"] > 0]
        present = [names[c] for c in coarse if (src[c] == 1).any()]
        path = wavs.get(fname)
        rows.append(
            {
                "path": str(path if path is not None else root / "audio" / fname),
                "labels": ";".join(present),
                "split": g["split"].iloc[0],
                "sensor_id": g["sensor_id"].iloc[0],
                "verified": bool(len(truth)),
                "duration": CLIP_SECONDS,
            }
        )
    return pd.DataFrame(rows)


INFO = register(
    DatasetInfo(
        name="sonyc_ust",
        description="SONYC-UST v2: 18510 ten-second NYC sensor recordings, 8 coarse / 23 fine multi-label tags",
        homepage="https://zenodo.org/record/3966543",
        licence="CC BY 4.0",
        citation=CITATION,
        files=FILES,
        login=None,
        folder="sonyc_ust",
        prepare=prepare,
    )
)
