"""Image -> soundscape synthesis (workflow 1, second half).

- ``library``: builds an offline, procedurally generated Scaper sound library
  (``<library>/foreground/<label>/*.wav``, ``<library>/background/<label>/*.wav``) with the
  original project's labels (bicycle, bus, car, motorcycle, person, road, traffic light, train,
  truck, vegetation).
- ``synthesis``: maps the segmentation classes found in an image to library labels
  (``configs/soundscape_mapping.yaml``) and synthesises Scaper soundscapes per image, with JAMS
  annotations and plain-text event lists.
"""
