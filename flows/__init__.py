"""Prefect flows: composition of the stages declared in soundflow/stages.py, nothing else."""
