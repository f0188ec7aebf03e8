"""Feature front-ends shared by the workflows (spec sections 3, 4 and 5).

- :mod:`tasks.features.logmel`: batched torch log-mel spectrograms that match
  ``librosa.feature.melspectrogram`` (Slaney mel filterbank) with the four
  presets of the spec: ``pann`` and ``yamnet`` (section 4 targets),
  ``localisation`` (section 3) and ``t2a`` (section 5).
- :mod:`tasks.features.third_octave`: the 29-band third-octave levels of the
  spectral transcoder (section 4): 32 kHz, 4096-sample Tukey frames every
  4000 samples (125 ms).
- :mod:`tasks.features.frames`: video frames resized to 256 x 256 and
  ImageNet-normalised (section 3).
"""
