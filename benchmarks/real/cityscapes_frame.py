"""One real Cityscapes frame through the label pipeline and the image -> soundscape path.

    .venv/bin/python benchmarks/real/cityscapes_frame.py [--shared ../shared]

Reads ``<shared>/data/cityscapes_real`` (frankfurt_000000_000294, val: a 256 x 128 frame with gtFine labelIds,
labelTrainIds and instanceIds, and the 2048 x 1024 original) through the project's own code: the Cityscapes
loader of every segmentation stage (``split_dataset``), the label table, the confusion matrix and report of
``seg_evaluate``, the fractions ``seg_predict`` writes, and the stage table's ``sound_library`` (tiny) and
``soundscapes``. Prints markdown tables and writes them with a JSON to ``reports/real/cityscapes_frame.{md,json}``.

1. labelIds -> trainIds against the shipped labelTrainIds: the differing pixels, where they lie (which
   neighbour's class the shipped map took), how many vertical class transitions moved, whether instanceIds
   agrees with labelIds, and which of the two classes the image's colours side with at those pixels (the
   frame's own pixel against the mean colour of each class nearby, with the same vote on agreeing boundary
   pixels as the control).
2. IoU of the ground truth against itself (1.0 per present class, null for absent ones), and of the shipped
   map scored against the converted one.
3. The ground truth, upscaled (nearest) to the full-resolution frame, as its segmentation: class fractions,
   the sounds the mapping chooses, and the events of the Scaper soundscapes.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "benchmarks")]

from common import table  # noqa: E402

from flows.workflows.image_to_soundscape import SEG_FRACTIONS, SOUNDSCAPES  # noqa: E402
from soundflow.io import write_json, write_text  # noqa: E402
from soundflow.pipeline.config import overridden, parse_params, read_params_yaml  # noqa: E402
from soundflow.pipeline.stages import get_stage  # noqa: E402
from soundflow.pipeline.workspace import TINY  # noqa: E402
from tasks.datasets.cityscapes import IGNORE_INDEX, LABEL_TO_TRAIN, NUM_CLASSES, TRAIN_CLASSES  # noqa: E402
from tasks.segmentation.evaluate import confusion_report  # noqa: E402
from tasks.segmentation.iou import ConfusionMatrix  # noqa: E402
from tasks.segmentation.params import SegParams  # noqa: E402
from tasks.segmentation.predict import class_fractions, write_fractions  # noqa: E402
from tasks.segmentation.splits import split_dataset  # noqa: E402

STEM = "frankfurt_000000_000294"
# the tiny library's 3-5 s events in the tiny 10 s soundscapes: event times and lengths scaled with them (the
# defaults, 20 +- 9 s and 12-16 s, are for 30 s soundscapes and would pile every event at the end)
SCALED = {"soundscapes.synthesis.event_time": [6.67, 3.0], "soundscapes.synthesis.event_duration": [3.0, 5.0]}
NEIGHBOURS = {"above": (-1, 0), "below": (1, 0), "left": (0, -1), "right": (0, 1)}


def read_png(path: Path, mode: str | None = None) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert(mode) if mode else im)


def frame_params(root: Path) -> SegParams:
    """The committed ``seg`` parameters on ``root`` at the frame's own size (128 x 256): nothing is resized."""
    raw = read_params_yaml(ROOT / "params.yaml")["seg"]
    raw["data"] = {"root": str(root), "image_size": [128, 256]}
    return SegParams.model_validate(raw)


def neighbour_counts(ours: np.ndarray, shipped: np.ndarray) -> dict[str, int]:
    """For the differing pixels: how many take the class (in our map) of each 4-neighbour, and of none in 3 x 3."""
    ys, xs = np.nonzero(ours != shipped)
    h, w = ours.shape
    out = {}
    for name, (dy, dx) in NEIGHBOURS.items():
        out[name] = sum(
            0 <= y + dy < h and 0 <= x + dx < w and ours[y + dy, x + dx] == shipped[y, x] for y, x in zip(ys, xs)
        )
    padded = np.pad(ours, 1, constant_values=254)
    out["none of the 8 neighbours"] = sum(shipped[y, x] not in padded[y : y + 3, x : x + 3] for y, x in zip(ys, xs))
    return out


def moved_transitions(ours: np.ndarray, shipped: np.ndarray) -> list[dict]:
    """Per third of the frame: vertical class transitions of our map, and pixels just below one that the
    shipped map gives the class above (a sampling point higher up moves the transition down one row)."""
    rows = []
    for lo, hi in ((1, 43), (43, 86), (86, ours.shape[0])):
        band = slice(lo, hi)
        transitions = int((ours[band] != ours[lo - 1 : hi - 1]).sum())
        moved = int(((ours[band] != shipped[band]) & (ours[lo - 1 : hi - 1] == shipped[band])).sum())
        rows.append({"rows": f"{lo}-{hi - 1}", "transitions": transitions, "moved": moved})
    return rows


def colour_vote(img: np.ndarray, labels: np.ndarray, pixels: list[tuple[int, int, int, int]]) -> tuple[int, int]:
    """For each (y, x, a, b): is the pixel's colour nearer the mean of class a or of class b among the other
    pixels of a 7 x 7 window (pixels where either class has fewer than 2 are skipped)? Returns (a, b) counts."""
    votes = [0, 0]
    for y, x, a, b in pixels:
        win = (slice(max(0, y - 3), y + 4), slice(max(0, x - 3), x + 4))
        colours, own = img[win], labels[win].copy()
        own[min(y, 3), min(x, 3)] = 254  # leave the pixel itself out
        means = [colours[own == c] for c in (a, b)]
        if min(len(m) for m in means) < 2:
            continue
        d = [np.linalg.norm(img[y, x] - m.mean(0)) for m in means]
        votes[int(d[1] < d[0])] += 1
    return votes[0], votes[1]


def boundary_controls(img: np.ndarray, labels: np.ndarray, agree: np.ndarray) -> dict[str, tuple[int, int]]:
    """The colour vote on agreeing pixels next to a class change: own class vs the neighbour's, per side."""
    h, w = labels.shape
    out = {}
    for side, (dy, dx) in (("below a class change", (-1, 0)), ("above a class change", (1, 0))):
        pixels = [
            (y, x, labels[y, x], labels[y + dy, x + dx])
            for y in range(max(0, -dy), h - max(0, dy))
            for x in range(max(0, -dx), w - max(0, dx))
            if agree[y, x] and agree[y + dy, x + dx] and labels[y, x] != labels[y + dy, x + dx]
        ]
        out[side] = colour_vote(img, labels, pixels)
    return out


def label_check(city: Path) -> dict:
    val = split_dataset(frame_params(city), city, "val")  # the loader every segmentation stage uses
    gt = city / "gtFine" / "val" / "frankfurt"
    label_ids = read_png(gt / f"{STEM}_gtFine_labelIds.png")
    ours, shipped = val.read_train_ids(0), read_png(gt / f"{STEM}_gtFine_labelTrainIds.png")
    assert np.array_equal(ours, LABEL_TO_TRAIN[label_ids])
    instances = read_png(gt / f"{STEM}_gtFine_instanceIds.png").astype(np.int64)
    img = read_png(val.paths[0][0], "RGB").astype(np.float64)
    differ = ours != shipped
    ys, xs = np.nonzero(differ)
    return {
        "pixels": int(differ.size),
        "differing": int(differ.sum()),
        "instance_vs_label_ids_differing": int(
            (np.where(instances >= 1000, instances // 1000, instances) != label_ids).sum()
        ),
        "shipped_class_is_that_of_our": neighbour_counts(ours, shipped),
        "vertical_transitions_moved": moved_transitions(ours, shipped),
        "colour_vote_at_differing_pixels": dict(
            zip(
                ("ours", "shipped"), colour_vote(img, ours, [(y, x, ours[y, x], shipped[y, x]) for y, x in zip(ys, xs)])
            )
        ),
        "colour_vote_controls_own_vs_neighbour": boundary_controls(img, ours, ~differ),
        "ours": ours,
        "shipped": shipped,
        "image": val.paths[0][0],
    }


def iou_docs(ours: np.ndarray, shipped: np.ndarray) -> dict[str, dict]:
    """``seg_evaluate``'s report of the ground truth scored against itself, and of the shipped map scored against
    ours on the pixels both label (a pixel one of them ignores is no prediction: counted apart)."""
    docs = {}
    for name, pred, keep in (
        ("gt_vs_itself", ours, ours != IGNORE_INDEX),
        ("shipped_vs_ours", shipped, (ours != IGNORE_INDEX) & (shipped != IGNORE_INDEX)),
    ):
        cm = ConfusionMatrix(NUM_CLASSES)
        cm.update(pred[keep].astype(np.int64), ours[keep].astype(np.int64))
        docs[name] = confusion_report(cm, list(TRAIN_CLASSES))
    docs["shipped_vs_ours"]["ignore_in_one_map_only"] = int(((ours == IGNORE_INDEX) != (shipped == IGNORE_INDEX)).sum())
    return docs


def soundscape_check(city: Path, ours: np.ndarray, work: Path) -> dict:
    """The ground truth as the full-resolution frame's segmentation, through ``sound_library`` and ``soundscapes``."""
    import jams

    frame = city / "full_resolution" / "leftImg8bit" / "val" / "frankfurt" / f"{STEM}_leftImg8bit.png"
    with Image.open(frame) as im:
        size = im.size
    full = np.asarray(Image.fromarray(ours).resize(size, Image.NEAREST))
    fractions = class_fractions(full, list(TRAIN_CLASSES))
    p = parse_params(overridden(read_params_yaml(ROOT / "params.yaml"), TINY | SCALED, ROOT), ROOT / "params.yaml")
    (work / p.soundscapes.mapping).parent.mkdir(parents=True, exist_ok=True)
    (work / p.soundscapes.mapping).write_text((ROOT / p.soundscapes.mapping).read_text())
    write_fractions([{"image": str(frame), **fractions}], list(TRAIN_CLASSES), work / SEG_FRACTIONS)
    get_stage("sound_library").run(p, work)
    row = get_stage("soundscapes").run(p, work).iloc[0].to_dict()
    events = []
    for n in range(int(row["n_soundscapes"])):
        jam = jams.load(str(work / SOUNDSCAPES / f"{frame.stem}_soundscape_{n}.jams"), validate=False)
        data = jam.annotations.search(namespace="scaper")[0].data
        events.append([(o.value["role"], o.value["label"], round(float(o.time), 2)) for o in data])
    present = {c: f for c, f in sorted(fractions.items(), key=lambda kv: -kv[1]) if f > 0}
    return {"frame_size": list(size), "fractions": present, "summary": row, "events": events}


def reading(labels: dict) -> str:
    """What the label tables say, in words (the numbers are this run's)."""
    moved = labels["vertical_transitions_moved"]
    share = [r["moved"] / r["transitions"] for r in moved]
    at = labels["colour_vote_at_differing_pixels"]
    below, above = labels["colour_vote_controls_own_vs_neighbour"].values()
    return (
        f"Reading: the shipped class is the converted class of the pixel above in "
        f"{labels['shipped_class_is_that_of_our']['above']} of {labels['differing']} pixels, and "
        f"{', '.join(f'{100 * x:.1f}' for x in share)} % of the vertical class transitions move down one row in "
        "the top, middle and bottom thirds alike: the shipped map is the same annotation resampled on its own "
        "grid, whose sampling point sits a fraction of a label row higher (a constant offset, not another scale). "
        "The labelIds agree with the instanceIds on every pixel, and at full resolution cityscapesScripts draws "
        "trainIds from the same polygons, so LUT(labelIds) is the trainId map of this labelIds file. As for the "
        f"image: at the differing pixels its colours side with the shipped class {at['shipped']} to {at['ours']}; "
        f"on agreeing pixels just below a class change {100 * below[0] / sum(below):.0f} % look like their own class "
        f"against {100 * above[0] / sum(above):.0f} % just above one, as if both label maps sat slightly above the "
        "image's edges, the shipped one a little less: a resampling difference, not a labelling error in either."
    )


def markdown(labels: dict, docs: dict, sounds: dict) -> str:
    d, n = labels["differing"], labels["pixels"]
    moved = labels["vertical_transitions_moved"]
    lines = [
        f"## labelIds -> trainIds vs the shipped labelTrainIds ({STEM}, 256 x 128)",
        "",
        f"Differing pixels: **{d} of {n}** ({100 * d / n:.2f} %); instanceIds vs labelIds: "
        f"{labels['instance_vs_label_ids_differing']} differing pixels.",
        "",
        table(
            ["shipped class = our class of the pixel", "pixels"],
            list(labels["shipped_class_is_that_of_our"].items()),
            [False, True],
        ),
        "",
        table(
            ["rows", "vertical class transitions (ours)", "moved one row down in the shipped map"],
            [(r["rows"], r["transitions"], r["moved"]) for r in moved],
            [False, True, True],
        ),
        "",
        table(
            ["colour vote (7 x 7 class means)", "own / ours", "neighbour / shipped"],
            [("at the differing pixels", *labels["colour_vote_at_differing_pixels"].values())]
            + [
                (f"control: agreeing pixels {k}", *v)
                for k, v in labels["colour_vote_controls_own_vs_neighbour"].items()
            ],
            [False, True, True],
        ),
        "",
        reading(labels),
        "",
        "## IoU (seg_evaluate's confusion report)",
        "",
    ]
    rows = [(c, docs["gt_vs_itself"]["iou"][c], docs["shipped_vs_ours"]["iou"][c]) for c in TRAIN_CLASSES]
    rows.append(("mIoU", docs["gt_vs_itself"]["miou"], docs["shipped_vs_ours"]["miou"]))
    lines += [
        table(
            ["class", "ground truth vs itself", "shipped vs ours"],
            [(c, *(("null" if v is None else f"{v:.4f}") for v in vs)) for c, *vs in rows],
            [False, True, True],
        ),
        "",
    ]
    s = sounds["summary"]
    lines += [
        f"## The ground truth as the segmentation of the {sounds['frame_size'][0]} x {sounds['frame_size'][1]} frame",
        "",
        table(
            ["class present", "pixel fraction"],
            [(c, f"{f:.4f}") for c, f in sounds["fractions"].items()],
            [False, True],
        ),
        "",
        f"Chosen: background **{s['background']}**, foreground **{s['foreground']}**; "
        f"{s['n_soundscapes']} soundscapes. Note: {s['note']}",
        "",
        table(
            ["soundscape", "background", "foreground events (label @ onset s)"],
            [
                (
                    k,
                    ", ".join(lab for role, lab, _ in ev if role == "background"),
                    ", ".join(f"{lab} @ {t}" for role, lab, t in ev if role == "foreground"),
                )
                for k, ev in enumerate(sounds["events"])
            ],
        ),
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared", help="the shared data folder")
    ap.add_argument("--out", type=Path, default=ROOT / "reports" / "real", help="where the .md and .json go")
    args = ap.parse_args()
    city = args.shared / "data" / "cityscapes_real"
    if not (city / "gtFine").is_dir():
        sys.exit(f"{city}: no Cityscapes frame there (expected gtFine/ and leftImg8bit/, see its README.md)")
    labels = label_check(city)
    ours, shipped = labels.pop("ours"), labels.pop("shipped")
    docs = iou_docs(ours, shipped)
    with tempfile.TemporaryDirectory() as work:
        sounds = soundscape_check(city, ours, Path(work))
    for d in (labels, sounds["summary"]):  # named inside the shared folder, not by this machine's path
        d["image"] = str(Path("shared") / os.path.relpath(d["image"], args.shared))
    text = markdown(labels, docs, sounds)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    write_text(args.out / "cityscapes_frame.md", text)
    doc = {"labels": labels, "iou": docs, "soundscapes": sounds}
    plain = json.loads(json.dumps(doc, default=lambda o: o.item()))  # numpy scalars -> Python numbers
    write_json(args.out / "cityscapes_frame.json", plain, sort_keys=False)


if __name__ == "__main__":
    main()
