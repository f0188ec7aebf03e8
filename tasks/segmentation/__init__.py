"""Semantic segmentation (workflow 1): Cityscapes labels and data, ERFNet training, IoU evaluation, prediction."""
