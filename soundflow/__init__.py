"""soundflow: one reproducible pipeline for environmental-sound and audiovisual ML research.

This package holds the pipeline's core (parameters, stage graph, tracking, CLI);
``tasks/`` holds the work, ``models/`` the networks, ``flows/`` the Prefect flows.
Importing it stays light: nothing here pulls in Prefect, MLflow or DVC.
"""

__version__ = "0.1.0"
