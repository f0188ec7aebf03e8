"""Procedural audiovisual scenes for sound localisation (the offline default of workflow 3).

Each sample is an image with one or two *sounding* objects and silent distractors at random places and
sizes, each category drawn with its own look (``looks``: colour, shape, texture), and a clip mixing the
sounding categories' procedural urban sounds over a street background. Truth: the sounding objects'
boxes, each drawn by three jittered "annotators" in the SoundNet-Flickr XML format, and the audio and
visual category labels (``writer``: ``generate_av_scenes``).
"""

from tasks.procedural.av_scenes.looks import LOOKS, draw_background, draw_object
from tasks.procedural.av_scenes.writer import GENERATOR_VERSION, generate_av_scenes

__all__ = ["GENERATOR_VERSION", "LOOKS", "draw_background", "draw_object", "generate_av_scenes"]
