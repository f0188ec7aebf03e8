"""Top AudioSet classes of any audio file from Google's pretrained YAMNet (Plakal & Ellis, 2020; 521 classes).

The weights are Google's, exported from TensorFlow (``yamnet_weights.npz``, loaded strictly by
:func:`models.yamnet.load_yamnet_npz`); the class names come from the model's own ``yamnet_class_map.csv``
(``index,mid,display_name``), by default the one beside the weights. Each file is decoded, downmixed to mono
and resampled to 16 kHz (soxr HQ, as Google's reference clips were); YAMNet scores every 0.96 s patch (hop
0.48 s, :mod:`models.yamnet_frontend`), the scores are averaged over the file's patches and the ``results``
best classes shown.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import soundfile as sf

from models.checkpoint_format import read_class_names
from models.yamnet import YAMNet, pretrained_yamnet, yamnet_outputs
from models.yamnet_frontend import SAMPLE_RATE
from soundflow.audio import load_audio
from tasks.aed.predict import FilePrediction

DEFAULT_WEIGHTS = Path("data/raw/yamnet/yamnet_weights.npz")  # relative to the project root
CLASS_MAP = "yamnet_class_map.csv"
N_CLASSES = 521


def load_predictor(weights: str | Path, class_map: str | Path | None = None) -> tuple[YAMNet, list[str]]:
    """(YAMNet with Google's weights in eval mode, its 521 class names); the class map defaults to the one
    in the weights' folder."""
    model = pretrained_yamnet(weights)  # first: a missing weights file is the likelier mistake
    return model, read_class_names(
        class_map if class_map is not None else Path(weights).with_name(CLASS_MAP), N_CLASSES
    )


def predict_file(model: YAMNet, names: list[str], path: str | Path, results: int = 5) -> FilePrediction:
    """The ``results`` best AudioSet classes of one file (mean score over its patches), best first."""
    path = Path(path)
    wave = load_audio(path, SAMPLE_RATE)  # AudioError naming the file and the problem
    t0 = time.perf_counter()
    scores, _, _ = yamnet_outputs(model, wave)
    seconds = (time.perf_counter() - t0) / len(scores)
    mean = scores.mean(axis=0)
    best = np.argsort(-mean, kind="stable")[:results]
    top = [(names[i], float(mean[i])) for i in best]
    return FilePrediction(path, sf.info(str(path)).samplerate, len(scores), seconds, top)
