"""Acoustic event classification (workflow 2): features, training, evaluation, prediction."""
