"""Procedural data: the pipeline's offline default datasets, generated from seeded models.

- ``urban_sounds``: environmental-sound clips of the ten UrbanSound8K classes, in UrbanSound8K's layout.
- ``street_scenes``: street images with label maps, in Cityscapes' layout.
- ``sound_library``: a Scaper sound library with the original image-to-soundscape project's labels.

Real datasets (registry, download, extraction, one recipe per corpus) live in :mod:`tasks.datasets`.
"""
