"""soundflow: one reproducible pipeline for environmental-sound and audiovisual ML research.

This package holds the pipeline's core (parameters, stage graph, tracking, CLI);
``tasks/`` holds the work, ``models/`` the networks, ``flows/`` the Prefect flows.
Importing it stays light: nothing here pulls in Prefect, MLflow or DVC.
"""

import os

__version__ = "0.1.0"

# torch's OpenMP threads (libgomp) spin 300,000 rounds, by default, waiting for the next parallel region. Beside
# any other busy process (a test's servers, a second job, a shared machine) a spinning thread takes the core the
# working one needs: an ERFNet training step ran 1.3x to 7x slower. 3,000 rounds cost nothing alone and gave back
# a 1.27x of it beside one busy process (benchmarks/bench_threads.py). Set before torch is imported, which is when
# libgomp reads it; a user's own OMP_WAIT_POLICY or GOMP_SPINCOUNT wins.
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", "3000")
