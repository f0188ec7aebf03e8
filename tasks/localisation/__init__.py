"""Workflow 3: multi-source sound localisation (Qian et al., ECCV 2020; docs/methods.md#sound-localisation)."""
