"""Flickr-SoundNet sound-source localisation set (Senocak et al., CVPR 2018).

Image-sound pairs drawn from the Flickr-SoundNet data (Aytar et al.'s SoundNet videos from the Yahoo
Flickr Creative Commons 100M set): 5,000 pairs with bounding boxes of the sounding object drawn by three
annotators per image (one XML file per pair: per annotator a ``bbox`` list, see
:mod:`tasks.datasets.soundnet_flickr`). The authors' README
(https://github.com/ardasnck/learning_to_localize_sound_source) links the 5,000 annotated pairs on Google
Drive (file id 1P93CTiQV71YLZCmBbZA0FvdwFxreydLt); it is downloaded through Drive's confirm flow
(:mod:`tasks.datasets.gdrive`). The test set later papers evaluate on is the 249 ids of LVS's
``metadata/flickr_test.csv`` (Chen et al., CVPR 2021; ``id,frame`` rows); the authors' own
``test_list.txt`` (250 lines) is kept beside it and used only when the CSV is absent.

Source: raw GitHub for both lists (no checksum published, so ``md5`` is None); Google Drive publishes
no checksum or stable size either, so the archive is checked by its content. A copy downloaded by hand
and put in this folder's ``downloads/`` is kept when it passes the same check; or unpack the media into
this folder (any depth) so that ``<id>.jpg``, ``<id>.wav`` and ``<id>.xml`` can be found.

Licence: research use only (authors' terms); the media come from YFCC100M (Creative Commons, per
item). ``duration`` is NaN: the audio clips vary and would have to be decoded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tasks.datasets.registry import DatasetInfo, RemoteFile, find_one, register

CITATION = (
    "A. Senocak, T.-H. Oh, J. Kim, M.-H. Yang, I. S. Kweon. Learning to Localize Sound Source in Visual "
    "Scenes. CVPR 2018. (Also cite SoundNet: Y. Aytar, C. Vondrick, A. Torralba, NeurIPS 2016, and YFCC100M.)"
)


def test_ids(root: Path) -> list[str]:
    """The evaluation ids: LVS's ``flickr_test.csv`` (249, ``id,frame``) if present, else ``test_list.txt``."""
    csvs = sorted(Path(root).rglob("flickr_test.csv"))
    if csvs:
        return [ln.split(",")[0].strip() for ln in csvs[0].read_text().splitlines() if ln.strip()]
    lines = find_one(Path(root), "test_list.txt").read_text().splitlines()
    return [Path(ln.strip().split()[0]).stem for ln in lines if ln.strip()]


def prepare(root: Path) -> pd.DataFrame:
    """``path`` (image), ``audio_path``, ``label_path`` (annotation XML), ``split`` = test, ``duration`` NaN."""
    root = Path(root)
    ids = test_ids(root)
    index: dict[tuple[str, str], Path] = {}
    for p in root.rglob("*"):
        if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".wav", ".mp3", ".xml") and "downloads" not in p.parts:
            index.setdefault((p.stem, p.suffix.lower()), p)

    def look(i: str, *sufs: str) -> str | float:
        for s in sufs:
            if (i, s) in index:
                return str(index[(i, s)])
        return np.nan

    return pd.DataFrame(
        {
            "path": [look(i, ".jpg", ".jpeg", ".png") for i in ids],
            "audio_path": [look(i, ".wav", ".mp3") for i in ids],
            "label_path": [look(i, ".xml") for i in ids],
            "split": "test",
            "duration": np.nan,
        }
    )


INFO = register(
    DatasetInfo(
        name="soundnet_flickr",
        description="Flickr-SoundNet sound localisation set: 5,000 annotated pairs, the 249-pair test list",
        homepage="https://github.com/ardasnck/learning_to_localize_sound_source",
        licence="research use only (authors' terms); media from YFCC100M under per-item Creative Commons",
        citation=CITATION,
        files=(
            RemoteFile(
                "https://raw.githubusercontent.com/ardasnck/learning_to_localize_sound_source/master/test_list.txt",
                "test_list.txt",
                None,
                None,
            ),
            RemoteFile(
                "https://raw.githubusercontent.com/hche11/Localizing-Visual-Sounds-the-Hard-Way/main/metadata/flickr_test.csv",
                "flickr_test.csv",
                None,
                None,
            ),
            RemoteFile(
                "https://drive.google.com/uc?export=download&id=1P93CTiQV71YLZCmBbZA0FvdwFxreydLt",
                "SoundLocalization.zip",
                None,
                None,
            ),
        ),
        login=None,
        folder="soundnet_flickr",
        prepare=prepare,
    )
)
