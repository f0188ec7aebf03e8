"""soundflow: one reproducible pipeline for environmental-sound and audiovisual ML research.

This package holds the pipeline's core (parameters, stage graph, tracking, CLI);
``tasks/`` holds the work, ``models/`` the networks, ``flows/`` the Prefect flows.
Importing it stays light: nothing here pulls in Prefect, MLflow or DVC.
"""

import os

__version__ = "0.1.0"

# torch's OpenMP threads (libgomp) spin while they wait for work, by default. Beside any other busy process (a
# test's servers, a second job, a shared machine) a spinning thread takes the core the working one needs: an
# ERFNet training step ran 4-7x slower. Sleeping threads cost a few percent alone (benchmarks/bench_threads.py).
# Set before torch is imported, which is when libgomp reads it; a user's own setting wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
