"""Procedural street scenes written in the Cityscapes layout (offline default data of workflow 1).

Cityscapes needs a login, so the pipeline's offline default is this generator. It writes exactly
the files the real download has for semantic segmentation::

    leftImg8bit/<split>/<city>/<city>_<seq:06d>_<frame:06d>_leftImg8bit.png     RGB
    gtFine/<split>/<city>/<city>_<seq:06d>_<frame:06d>_gtFine_labelIds.png      uint8 labelIds
    gtFine/<split>/<city>/<city>_<seq:06d>_<frame:06d>_gtFine_color.png         RGB, for looking at

so the loader that reads real Cityscapes (:mod:`tasks.datasets.cityscapes`) is the one tested.
Labels are *labelIds* as in the real data (road 7, car 26, ...), including ids the loader maps to
ignore: unlabeled (0), ego vehicle (1, the hood at the bottom), static (4), dynamic (5), ground (6),
parking (9) and rail track (10).

Each scene is a street seen from a car's roof at about 1.3 m, projected with a pinhole camera onto a
ground plane with a vanishing point (and sometimes a gentle curve): sky with clouds, buildings along
both sides (window grids, shops, roofs, varied colours, heights and set-backs), side streets, parks,
walls, fences and hedges, a road with lane markings, crossings and patches, sidewalks and kerbs,
street trees, lamp posts, traffic lights and signs, parked and moving cars, trucks, buses, the odd
tram, pedestrians, cyclists and motorcyclists (riders), parked bicycles and motorcycles, bins and
benches. Everything is painted far to near (painter's algorithm) into the image and the label map
with the same polygons, so occlusion is consistent. Lighting varies (overcast or sunny, a sun side
with cast shadows, exposure, colour cast, vignetting), and per-class texture noise, a slight blur and
sensor noise make the task learnable but not trivial. Pixel frequencies are roughly Cityscapes-like:
road, building, vegetation and sky large; person, rider, motorcycle, bicycle and traffic light small.

Image ``i`` of split ``s`` (train 0, val 1, test 2) is rendered from
``np.random.default_rng([seed, s, i])`` and does not depend on how many images are generated.
Unlike the real test split (whose labels are withheld), the test split here has true labels.

Modules: ``scene`` (camera and paint queue), ``canvas`` (image, labels, shadows), ``palette`` and
``label_ids``; the planners ``layout``, ``blocks``, ``buildings``, ``furniture``, ``vehicles``, ``people``,
``street_plan``; the painters ``backdrop`` and ``ground``, with ``solids``; ``finish`` (texture,
lighting, sensor); ``render`` (``render_scene``); ``writer`` (``generate_street_scenes``).
"""

from tasks.procedural.street_scenes.render import render_scene
from tasks.procedural.street_scenes.writer import CITIES, FRAME, GENERATOR_VERSION, SPLITS, generate_street_scenes

__all__ = ["CITIES", "FRAME", "GENERATOR_VERSION", "SPLITS", "generate_street_scenes", "render_scene"]
