"""Prefect flows: composition of the stages declared in soundflow/pipeline/stages.py, nothing else."""
