"""The Flickr-SoundNet box annotations (Senocak et al., CVPR 2018): one XML file per image.

The format, as the LVS / EZ-VSL evaluation code reads it: the root's children are the annotators'
objects; each ``bbox`` element holds a first child naming the annotator (skipped by those readers)
followed by ``xmin``, ``ymin``, ``xmax``, ``ymax`` in pixels of the 256 x 256 image. A box may carry a
class (``class`` attribute of its object, the AudioSet-instrument style); the procedural scenes
(:mod:`tasks.procedural.av_scenes`) write the same format so that this very parser reads them, and the
audio-visual feature store (:mod:`tasks.features.audiovisual`) reads both. The download recipe is
:mod:`tasks.datasets.corpora.soundnet_flickr`.

Citation: A. Senocak, T.-H. Oh, J. Kim, M.-H. Yang, I. S. Kweon. Learning to Localize Sound Source in
Visual Scenes. CVPR 2018.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from soundflow.inputs import InputError, require_nonempty_file
from soundflow.io import atomic_path

FLICKR_SIDE = 256  # the annotations' coordinate frame


class AnnotationError(InputError):
    """An annotation file that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class Box:
    annotator: int
    x0: float
    y0: float
    x1: float
    y1: float
    category: int = -1  # -1: the box names no class (SoundNet-Flickr)


def read_flickr_xml(path: str | Path) -> list[Box]:
    """Every annotator's boxes of one image, in the file's 256 x 256 pixel frame."""
    path = Path(path)
    require_nonempty_file(path, AnnotationError)
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, ValueError, LookupError) as err:  # ValueError, LookupError: an unusable encoding
        raise AnnotationError(path, f"not valid XML ({err})") from None
    boxes = []
    for a, obj in enumerate(root):
        try:
            category = int(obj.get("class", -1))
        except ValueError:
            raise AnnotationError(path, f"object {a + 1}: class {obj.get('class')!r} is not an integer") from None
        for bbox in obj.iter("bbox"):
            fields = list(bbox)
            try:
                annotator = int(fields[0].text) if fields and fields[0].text.strip().isdigit() else a
                x0, y0, x1, y1 = (float(f.text) for f in fields[1:5])
            except (ValueError, AttributeError, TypeError) as err:
                raise AnnotationError(path, f"bbox {len(boxes) + 1}: not annotator + 4 numbers ({err})") from None
            if not (x1 > x0 and y1 > y0):
                raise AnnotationError(path, f"bbox {len(boxes) + 1}: empty box ({x0}, {y0}, {x1}, {y1})")
            boxes.append(Box(annotator, x0, y0, x1, y1, category))
    if not boxes:
        raise AnnotationError(path, "no bbox element")
    return boxes


def write_flickr_xml(path: str | Path, boxes: list[Box]) -> None:
    """``boxes`` in the SoundNet-Flickr format (one ``object`` per annotator and class), written atomically."""
    root = ET.Element("annotation")
    groups: dict[tuple[int, int], ET.Element] = {}
    for b in boxes:
        if (b.annotator, b.category) not in groups:
            attrs = {"class": str(b.category)} if b.category >= 0 else {}
            groups[(b.annotator, b.category)] = ET.SubElement(root, "object", attrs)
        bbox = ET.SubElement(groups[(b.annotator, b.category)], "bbox")
        ET.SubElement(bbox, "annotator").text = str(b.annotator)
        for tag, v in zip(("xmin", "ymin", "xmax", "ymax"), (b.x0, b.y0, b.x1, b.y1)):
            ET.SubElement(bbox, tag).text = str(int(round(v)))
    with atomic_path(Path(path)) as tmp:
        ET.ElementTree(root).write(tmp, encoding="utf-8", xml_declaration=True)
