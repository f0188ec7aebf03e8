"""Utilities shared by several test modules (conftest.py keeps only fixtures and hooks).

- ``paths``: the checkout (``ROOT``) and the shared real recordings (``SHARED``, ``ESC10``);
- ``audio``: a sine-tone wav writer and tables of noise clips for feature stores;
- ``commands``: running soundflow/DVC in a scratch project and reading which stages ran;
- ``dask_cluster``: the session's Dask cluster (a fixture) for the tests naming one by DASK_SCHEDULER_ADDRESS;
- ``corpus_server``: a local HTTP server standing in for the corpora's hosts, and tiny archives;
- ``resume``: killing a training run between epochs, or a stage subprocess by SIGKILL, and judging its outputs;
- ``audioldm2``: a tiny, randomly initialised AudioLDM2 pipeline built offline (a local model folder);
- ``t2a``: a small real dataset and the text-to-audio parameters for it.
"""
