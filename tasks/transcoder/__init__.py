"""Spectral transcoding, workflow 4 (Tailleur et al., DCASE 2023; docs/methods.md#spectral-transcoder).

Third-octave levels -> Mel spectrograms by PINV, CNN-mels and CNN-logits, judged through a frozen teacher
(PANN CNN14 / ResNet38, YAMNet, or one the pipeline trains). Modules, in the order of the stages:
``soundscapes`` (offline data), ``sources`` and ``pairs`` (paired 1 s chunks from the feature store),
``features`` (the stores), ``teacher``, ``pinv`` / ``pinv_report``, ``train`` (the CNNs), ``heads``,
``metrics``, ``conditions``, ``evaluate`` and ``table``, ``audio`` (through ``griffin_lim``); ``fitting`` is what their
trainings share on top of :func:`soundflow.training.fit`.
"""
