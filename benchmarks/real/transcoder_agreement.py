"""YAMNet top-1 agreement of spectral transcoders on real TAU clips: the authors' checkpoint, PINV, and ours.

    .venv/bin/python benchmarks/real/transcoder_agreement.py            # 4-8 min on 2 CPU cores
    .venv/bin/python benchmarks/real/transcoder_agreement.py --soundscapes 16 --epochs 1   # a quick look

Teacher: Google's YAMNet (``../shared/data/yamnet/yamnet_weights.npz``, :func:`models.yamnet.pretrained_yamnet`).
Clips: the five TAU Urban Acoustic Scenes 2020 Mobile clips of ``../shared/data/transcoder_reference`` (10 s
each: 50 one-second chunks), read as the authors' dataset script reads them (:mod:`tasks.transcoder.reference`).
YAMNet's top-1 class on a transcoded Mel is compared with its top-1 on the true Mel of the same audio, three
ways: per clip on the scores averaged over its ten seconds, the fraction of clips that agree (the authors'
``ptopafc``, :func:`tasks.transcoder.metrics.clip_top1_agreement`: what the paper reports; 5 clips here);
per 1 s chunk, the fraction of chunks, and the mean over the true-Mel top-1 classes of each one's fraction
(:func:`tasks.transcoder.metrics.teacher_top1_agreement`, micro and macro):

- the authors' pipeline: their third-octaves, their PINV, their YAMNet CNN-logits checkpoint; the true Mel
  is their teacher's (their PyTorch port of YAMNet's front end), and also Google's front end;
- ours: a CNN-logits student trained by the ``transcoder_cnn_logits`` stage with the real YAMNet as its
  teacher, in a scratch copy of the project (``soundflow.pipeline.workspace.copy_project`` + ``soundflow run``) on the
  offline procedural soundscapes, behind our PINV; the true Mel is Google's front end (the stage's target).

The table goes to stdout and to ``reports/real/transcoder_agreement.{md,json}``, beside the paper's 85.1 %
(YAMNet CNN-logits; Tailleur et al., DCASE 2023).
"""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # benchmarks/common.py
import common  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "data"
REF = SHARED / "transcoder_reference"
YAMNET = SHARED / "yamnet" / "yamnet_weights.npz"
CLASS_MAP = SHARED / "yamnet" / "yamnet_class_map.csv"
STUDENT = "classifier=YamNet+dataset=full+dilation=1+epoch=200+kernel_size=5+learning_rate=-3+nb_channels=64+nb_layers=5+prop_logit=100+step=train+transcoder=cnn_pinv+ts=1_model"  # noqa: E501
CLIPS = (
    "paperSpectralTranscoder/audio/street_pedestrian-paris-152-4607-a.wav",
    "fast-to-ears/audio/park-london-96-2684-a.wav",
    "fast-to-ears/audio/street_pedestrian-barcelona-145-4370-a.wav",
    "fast-to-ears/audio/street_traffic-barcelona-162-4949-a.wav",
    "fast-to-ears/yamnet/tram-stockholm-284-8588-s4.wav",
)
PAPER_CNN_LOGITS_YAMNET = 85.1  # %
OUT = ROOT / "reports" / "real"


def pipeline_overrides(soundscapes: int, epochs: int, channels: int) -> dict[str, object]:
    """Workflow 4 pointed at the real YAMNet, sized for minutes on 2 cores (the paper: TAU, 64 channels, 200 epochs)."""
    return {
        "transcoder.teacher.name": "yamnet",
        "transcoder.teacher.checkpoint": str(YAMNET),
        "transcoder.teacher.class_names": str(CLASS_MAP),
        "transcoder.data.soundscapes": soundscapes,
        "transcoder.train.channels": channels,
        "transcoder.train.epochs": epochs,
        "data.urban_synth.clips_per_class": 4,  # the single-label source: built by the features stage, unused here
        "data.urban_synth.n_folds": 3,
    }


def train_our_student(work: Path, overrides: dict[str, object]) -> tuple[Path, dict[str, float]]:
    """``soundflow run transcoder_cnn_logits`` in a scratch copy; (its checkpoint, its summary and timings)."""
    import json

    from soundflow.pipeline.workspace import copy_project

    project = copy_project(ROOT, work / "project", overrides)
    env = common_env(project)
    t0, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.run(
        [sys.executable, "-m", "soundflow", "run", "transcoder_cnn_logits"], cwd=project, env=env, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"soundflow run transcoder_cnn_logits failed ({proc.returncode}):\n{proc.stdout[-4000:]}")
    summary = json.loads((project / "reports/transcoder/cnn_logits.json").read_text())
    features = json.loads((project / "reports/transcoder/features.json").read_text())
    summary.update(
        pipeline_wall_s=time.perf_counter() - t0,
        pipeline_cpu_s=(after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime),
        train_source_clips=features[next(iter(features))]["clips"],
    )
    return project / "outputs/transcoder/cnn_logits.pt", summary


def common_env(project: Path) -> dict[str, str]:
    """The environment of a fresh clone's CLI: the venv first on PATH, the copy's own Prefect state."""
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_TRACKING_URI", "SOUNDFLOW_PIPELINE_KEY")}
    env.update(PATH=f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}", PYTHONUNBUFFERED="1")
    env.update(PREFECT_HOME=str(project / ".soundflow/prefect"), DVC_NO_ANALYTICS="1", HF_HUB_OFFLINE="1")
    env.update(MLFLOW_DISABLE_TELEMETRY="true", PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1")
    return env


def chunk_inputs() -> dict[str, object]:
    """Third-octaves and both true Mels of every second of the TAU clips."""
    import torch

    from tasks.transcoder.reference import authors_teacher_mel, clip_waves, google_teacher_mel, third_octave_chunks

    third, authors, google = [], [], []
    for clip in CLIPS:
        x32, x16 = clip_waves(REF / clip)
        third.append(third_octave_chunks(x32))
        authors.append(authors_teacher_mel(x16))
        google.append(google_teacher_mel(x16))
    return {"third": torch.cat(third), "authors_mel": torch.cat(authors), "google_mel": torch.cat(google)}


def logits_of(student: Path, inputs: dict[str, object]) -> dict[str, object]:
    """YAMNet's logits on each Mel: the two true Mels, the authors' PINV and student, our PINV and student."""
    import torch

    from models.yamnet import pretrained_yamnet
    from tasks.transcoder.pinv import PinvTranscoder
    from tasks.transcoder.reference import load_authors_transcoder
    from tasks.transcoder.train import load_transcoder

    device = torch.device("cpu")
    teacher = pretrained_yamnet(YAMNET).requires_grad_(False)
    authors = load_authors_transcoder(REF / "paperSpectralTranscoder/reference_models" / STUDENT)
    ours_pinv, ours_cnn = PinvTranscoder("logmel_yamnet", 96), load_transcoder(student, device)
    x = inputs["third"]
    with torch.no_grad():
        mels = {
            "authors_mel": inputs["authors_mel"],
            "google_mel": inputs["google_mel"],
            "authors_pinv": authors.pinv(x),
            "authors_cnn_logits": authors(x),
            "our_pinv": ours_pinv(x),
            "our_cnn_logits": ours_cnn(ours_pinv(x)),
        }
        return {k: teacher(v).numpy() for k, v in mels.items()}


ROWS = (  # (transcoder, its input, true Mel it is compared with)
    ("authors' PINV", "authors_pinv", "authors_mel"),
    ("authors' CNN-logits (their YAMNet checkpoint)", "authors_cnn_logits", "authors_mel"),
    ("authors' PINV", "authors_pinv", "google_mel"),
    ("authors' CNN-logits (their YAMNet checkpoint)", "authors_cnn_logits", "google_mel"),
    ("our PINV", "our_pinv", "google_mel"),
    ("our CNN-logits (transcoder_cnn_logits, real YAMNet teacher)", "our_cnn_logits", "google_mel"),
    ("the authors' Mel itself (front end only)", "authors_mel", "google_mel"),
)
TRUE_MEL = {"authors_mel": "authors' (PyTorch-port front end)", "google_mel": "Google's (TF front end)"}


def agreement_rows(logits: dict[str, object]) -> list[dict[str, object]]:
    import numpy as np

    from tasks.transcoder.metrics import clip_top1_agreement, teacher_top1_agreement

    clips = np.repeat(np.arange(len(CLIPS)), len(logits["authors_mel"]) // len(CLIPS))
    scores = {k: 1 / (1 + np.exp(-v)) for k, v in logits.items()}  # YAMNet's scores: the sigmoid of its logits
    rows = []
    for name, est, true in ROWS:
        per_chunk = teacher_top1_agreement(logits[true], logits[est])
        paper = PAPER_CNN_LOGITS_YAMNET if est == "authors_cnn_logits" and true == "authors_mel" else None
        rows.append({
            "transcoder": name, "true_mel": TRUE_MEL[true], "clips": len(CLIPS), "chunks": len(clips),
            "clip_top1_agreement": clip_top1_agreement(scores[true], scores[est], clips),
            "chunk_top1_agreement_micro": per_chunk["teacher_top1_agreement_micro"],
            "chunk_top1_agreement_macro": per_chunk["teacher_top1_agreement"], "paper": paper,
        })  # fmt: skip
    return rows


def report(rows: list[dict[str, object]], summary: dict[str, object], meta: dict[str, object]) -> str:
    pct = lambda v: None if v is None else 100 * float(v)  # noqa: E731
    body = common.table(
        ["transcoder", "true Mel (YAMNet's reference)", "per clip %", "per chunk %", "per chunk, class mean %",
         "paper (per clip) %"],
        [[r["transcoder"], r["true_mel"], pct(r["clip_top1_agreement"]), pct(r["chunk_top1_agreement_micro"]),
          pct(r["chunk_top1_agreement_macro"]), r["paper"]] for r in rows],
        numeric=[False, False, True, True, True, True],
    )  # fmt: skip
    ours = (
        f"Our student: {summary['n_train_chunks']} training chunks of procedural soundscapes, "
        f"{meta['overrides']['transcoder.train.channels']} channels, best epoch {summary['best_epoch']} of "
        f"{meta['overrides']['transcoder.train.epochs']} (validation agreement "
        f"{100 * summary['val_teacher_top1_agreement']:.1f} %); pipeline {summary['pipeline_wall_s']:.0f} s wall, "
        f"{summary['pipeline_cpu_s']:.0f} s CPU."
    )
    head = (
        f"YAMNet top-1 agreement with the true Mel on {rows[0]['clips']} real TAU 2020 Mobile clips (10 s; "
        f"{rows[0]['chunks']} one-second chunks). Per clip: scores averaged over the clip's seconds, as the "
        "authors' metric (and the paper's 85.1 %, over their TAU test split); per chunk: every second on its own."
    )
    return f"{head}\n\n{body}\n\n{ours}\n\n{common.machine_line(meta['machine'])}; load {meta['load']}\n"


def main() -> None:
    parser = common.argument_parser(__doc__)
    parser.add_argument("--soundscapes", type=int, default=96, help="procedural soundscapes (10 s) to train ours on")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--channels", type=int, default=16, help="our CNN's channels (the paper's: 64)")
    parser.add_argument("--keep", type=Path, help="train in this folder, kept afterwards (default: a temp dir)")
    args = parser.parse_args()
    missing = [p for p in (YAMNET, CLASS_MAP, REF / "reference_outputs.npz") if not p.is_file()]
    if missing:
        raise SystemExit(f"shared reference data missing: {', '.join(map(str, missing))}")
    t0 = time.perf_counter()
    overrides = pipeline_overrides(args.soundscapes, args.epochs, args.channels)
    with tempfile.TemporaryDirectory(prefix="transcoder_agreement_") as tmp:
        work = args.keep or Path(tmp)
        common.log(f"training our CNN-logits student through the pipeline (copy_project + soundflow run) in {work}")
        student, summary = train_our_student(work, overrides)
        common.log("YAMNet on the TAU chunks")
        rows = agreement_rows(logits_of(student, chunk_inputs()))
    meta = {"machine": common.machine_meta(False), "load": common.load_average(), "overrides": overrides,
            "total_wall_s": time.perf_counter() - t0}  # fmt: skip
    text = report(rows, summary, meta)
    print(text)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "transcoder_agreement.md").write_text(text)
    common.write_json(OUT / "transcoder_agreement.json", {"rows": rows, "our_student": summary, "meta": meta})


if __name__ == "__main__":
    main()
