"""Text-to-audio augmentation for environmental sound classification (Ronchini et al., DCASE 2024).

Modules, in the order of the stages: ``prompts`` (templates and class descriptions), ``generators``
(one interface; the procedural stand-in) and ``audioldm2`` (diffusers' AudioLDM2), ``generate`` (clips in
the real dataset's layout, resumable), ``real`` (the real clips used), ``features`` (``logmel_t2a`` stores
and per-spectrogram standardisation), ``folds`` (UrbanSound8K's rotation and the four training sets),
``train`` (every configuration through :func:`soundflow.training.fit`), ``evaluate`` (test accuracy, one
record per MLflow run) and ``summary`` (mean ± std over folds, accuracy against the synthetic share).
"""
