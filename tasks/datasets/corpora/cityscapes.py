"""Cityscapes (Cordts et al., 2016): fine pixel annotations and left 8-bit images.

5000 finely annotated 2048x1024 street scenes from 50 cities (2975 train, 500 val, 1525 test whose
labels are withheld), 30 classes of which 19 are evaluated. Two packages are fetched:
``gtFine_trainvaltest.zip`` (packageID 1, about 241 MB) and ``leftImg8bit_trainvaltest.zip``
(packageID 3, about 11 GB), from ``https://www.cityscapes-dataset.com/file-handling/?packageID=<n>``.

Download needs an account: :func:`tasks.datasets.registry.fetch` logs in at
https://www.cityscapes-dataset.com/login/ with ``CITYSCAPES_USERNAME`` / ``CITYSCAPES_PASSWORD``
(:func:`credentials_from_env`, prompting on a TTY) and downloads with the session cookie; the password
is never logged nor written anywhere. Checksums: the site publishes an md5 per package to a
logged-in session at ``https://www.cityscapes-dataset.com/md5-sum/?packageID=<n>`` (one ``md5sum``
line, read the same way by the site's own downloader, cityscapesScripts' ``csDownload``); ``md5_url``
points there and each package is verified against it, so an expired login (the site answering with
its login page) or a corrupted transfer is refused instead of being kept. The sums are not copied
here because the site shows them only after login.

Licence: Cityscapes licence, non-commercial research and teaching use only; no redistribution.

``prepare``: one row per image, ``path`` (image), ``label_path`` (``*_gtFine_labelIds.png``),
``split``, ``city``; ``duration`` is NaN (images). The format (labels, layout) is :mod:`tasks.datasets.cityscapes`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tasks.datasets.cityscapes import IMAGE_SUFFIX, LABEL_SUFFIX
from tasks.datasets.registry import DatasetInfo, RemoteFile, find_one, register

CITATION = (
    "M. Cordts, M. Omran, S. Ramos, T. Rehfeld, M. Enzweiler, R. Benenson, U. Franke, S. Roth, B. Schiele. "
    "The Cityscapes Dataset for Semantic Urban Scene Understanding. CVPR 2016."
)
_URL = "https://www.cityscapes-dataset.com/file-handling/?packageID={}"
_MD5_URL = "https://www.cityscapes-dataset.com/md5-sum/?packageID={}"
PACKAGES = {1: "gtFine_trainvaltest.zip", 3: "leftImg8bit_trainvaltest.zip"}
FILES = tuple(RemoteFile(_URL.format(n), name, None, None, md5_url=_MD5_URL.format(n)) for n, name in PACKAGES.items())


def prepare(root: Path) -> pd.DataFrame:
    """``path, label_path, split, city, duration``: the pairs of :func:`find_pairs` over the two packages."""
    root = Path(root)
    img_root = find_one(root, "*/leftImg8bit").parent
    gt_root = find_one(root, "*/gtFine").parent
    rows = []
    for split_dir in sorted(p for p in (img_root / "leftImg8bit").iterdir() if p.is_dir()):
        for img in sorted(split_dir.glob(f"*/*{IMAGE_SUFFIX}")):
            stem = img.name[: -len(IMAGE_SUFFIX)]
            lab = gt_root / "gtFine" / split_dir.name / img.parent.name / (stem + LABEL_SUFFIX)
            if not lab.is_file():
                raise FileNotFoundError(f"label file {lab} for image {img} is missing")
            rows.append(
                {
                    "path": str(img),
                    "label_path": str(lab),
                    "split": split_dir.name,
                    "city": img.parent.name,
                    "duration": np.nan,
                }
            )
    return pd.DataFrame(rows, columns=["path", "label_path", "split", "city", "duration"])


INFO = register(
    DatasetInfo(
        name="cityscapes",
        description="Cityscapes gtFine + leftImg8bit (train/val/test), semantic segmentation",
        homepage="https://www.cityscapes-dataset.com/",
        licence="Cityscapes licence: non-commercial research/teaching only, no redistribution",
        citation=CITATION,
        files=FILES,
        login="cityscapes",
        folder="cityscapes",
        prepare=prepare,
    )
)
