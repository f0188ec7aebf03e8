"""The pipeline's work: plain typed functions, one package per workflow."""
