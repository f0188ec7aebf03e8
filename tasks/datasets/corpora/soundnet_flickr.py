"""Flickr-SoundNet sound-source localisation test set (Senocak et al., CVPR 2018).

Image-sound pairs drawn from the Flickr-SoundNet data (Aytar et al.'s SoundNet videos from the Yahoo
Flickr Creative Commons 100M set), with bounding boxes of the sounding object drawn by three
annotators per image (one XML file per pair, Pascal-VOC style). The standard test set is the 250
pairs listed in ``test_list.txt`` of https://github.com/ardasnck/learning_to_localize_sound_source.

Source: only ``test_list.txt`` has a stable published URL (raw GitHub; no checksum published, so
``md5`` is None). The images, audio and XML annotations are distributed through a link in that
repository's README that is not a stable file URL (it was a placeholder in the versions seen), so
they are not fetched automatically: unpack them into this folder (any depth) so that
``<id>.jpg``, ``<id>.wav`` and ``<id>.xml`` can be found.

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


def prepare(root: Path) -> pd.DataFrame:
    """``path`` (image), ``audio_path``, ``label_path`` (annotation XML), ``split`` = test, ``duration`` NaN."""
    root = Path(root)
    ids = [
        Path(ln.strip().split()[0]).stem
        for ln in find_one(root, "test_list.txt").read_text().splitlines()
        if ln.strip()
    ]
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
        description="Flickr-SoundNet sound localisation test set (250 annotated image-audio pairs)",
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
        ),
        login=None,
        folder="soundnet_flickr",
        prepare=prepare,
    )
)
