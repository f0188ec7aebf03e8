"""Semantic segmentation (workflow 1): Cityscapes training data, ERFNet training, IoU evaluation, prediction."""
