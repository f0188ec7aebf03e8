"""UrbanSound8K (Salamon, Jacoby & Bello, 2014).

8732 labelled excerpts (<= 4 s) of urban sounds in 10 classes (air_conditioner, car_horn,
children_playing, dog_bark, drilling, engine_idling, gun_shot, jackhammer, siren, street_music),
from Freesound, pre-sorted into 10 folds (``audio/fold1`` .. ``audio/fold10``), with
``metadata/UrbanSound8K.csv`` (``slice_file_name, fsID, start, end, salience, fold, classID, class``).

Source: Zenodo record 1203745, ``UrbanSound8K.tar.gz``; md5 ``9aa69802bbf37fb986f71ec1483a196e`` as
published by Zenodo (also used by soundata's loader). Size left None (not recorded here).

Licence: Creative Commons Attribution-NonCommercial 3.0 (CC BY-NC 3.0), non-commercial use only.
``duration`` is ``end - start`` of each slice from the metadata CSV (no decoding).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from tasks.datasets.labelled_audio import DatasetLayoutError, read_labelled_audio
from tasks.datasets.registry import DatasetInfo, RemoteFile, find_one, register

CITATION = (
    'J. Salamon, C. Jacoby and J. P. Bello, "A Dataset and Taxonomy for Urban Sound Research", '
    "22nd ACM International Conference on Multimedia (ACM-MM'14), Orlando, FL, USA, Nov. 2014, pp. 1041-1044."
)


def prepare(root: Path) -> pd.DataFrame:
    """``path, label, class, fold, source, duration`` of every slice (via :func:`read_labelled_audio`)."""
    csv = find_one(Path(root), "**/metadata/UrbanSound8K.csv")
    data_root = csv.parent.parent
    table = read_labelled_audio(data_root, "urbansound8k")
    meta = pd.read_csv(csv)
    try:
        dur = {
            str((data_root / "audio" / f"fold{f}" / n).resolve()): float(e - s)
            for f, n, s, e in zip(meta["fold"], meta["slice_file_name"], meta["start"], meta["end"])
        }
    except (KeyError, TypeError, ValueError) as err:  # no start/end column, or not numbers
        raise DatasetLayoutError(f"{csv}: no usable start and end seconds ({type(err).__name__}: {err})") from None
    table["duration"] = table["path"].map(dur)
    return table


INFO = register(
    DatasetInfo(
        name="urbansound8k",
        description="8732 urban sound excerpts (<= 4 s), 10 classes, 10 folds",
        homepage="https://urbansounddataset.weebly.com/urbansound8k.html",
        licence="CC BY-NC 3.0",
        citation=CITATION,
        files=(
            RemoteFile(
                "https://zenodo.org/record/1203745/files/UrbanSound8K.tar.gz",
                "UrbanSound8K.tar.gz",
                None,
                "9aa69802bbf37fb986f71ec1483a196e",
            ),
        ),
        login=None,
        folder="urbansound8k",
        prepare=prepare,
    )
)
