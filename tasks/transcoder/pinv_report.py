"""The ``transcoder_pinv`` stage's work: the PINV matrices and PINV's error on the validation chunks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from soundflow.devices import pick_device
from soundflow.io import atomic_path, write_json
from tasks.features.third_octave import ThirdOctaveParams
from tasks.transcoder.fitting import batched
from tasks.transcoder.metrics import teacher_top1_agreement
from tasks.transcoder.pairs import CHUNK_FRAMES, MEL_FOR_TEACHER, load_pairs
from tasks.transcoder.params import TranscoderParams
from tasks.transcoder.pinv import PinvTranscoder, pinv_matrix
from tasks.transcoder.teacher import load_teacher


def pinv_report(features_dir: Path, teacher_file: Path, p: TranscoderParams, matrices: Path, report: Path) -> Path:
    """Writes the clipped pseudo-inverse and the Mel filterbank on its bins (``matrices``, npz) and the
    validation MSE and teacher top-1 agreement of PINV (``report``)."""
    device, mel = pick_device(p.device), MEL_FOR_TEACHER[p.teacher.name]
    pinv = PinvTranscoder(mel, CHUNK_FRAMES[mel]).to(device)
    with atomic_path(matrices) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, pinv=pinv_matrix(ThirdOctaveParams()), mel_filterbank=pinv.mel_fb.cpu().numpy())
    pairs = load_pairs(features_dir, mel, splits=("val",))
    est = batched(pinv, torch.from_numpy(pairs.third_octave), device)
    true = torch.from_numpy(pairs.mel)
    teacher, _, _ = load_teacher(teacher_file, device)
    agree = teacher_top1_agreement(batched(teacher, true, device).numpy(), batched(teacher, est, device).numpy())
    return write_json(report, {"val_mse": float(torch.mean((est - true) ** 2)), "val_chunks": len(true), **agree})
