"""Feature front-ends shared by the workflows (docs/methods.md#log-mel-presets).

- :mod:`tasks.features.logmel`: batched torch log-mel spectrograms that match
  ``librosa.feature.melspectrogram`` (Slaney mel filterbank) with the four
  presets: ``pann`` and ``yamnet`` (the spectral transcoder's targets),
  ``localisation`` and ``t2a`` (text-to-audio augmentation).
- :mod:`tasks.features.third_octave`: the 29-band third-octave levels of the
  spectral transcoder (Tailleur et al., 2023): 32 kHz, 4096-sample Tukey frames every
  4000 samples (125 ms).
- :mod:`tasks.features.frames`: video frames resized to 256 x 256 and
  ImageNet-normalised (sound localisation, Qian et al., 2020).
"""
