"""Neural network architectures: plain ``nn.Module``s, no training logic.

``get(name)(**kwargs)`` builds a registered model; importing this package
registers every architecture it ships.
"""

from models import (
    aed_cnn,  # noqa: F401  (registers "aed_cnn")
    av_localisation,  # noqa: F401  (registers "av_localisation")
    erfnet,  # noqa: F401  (registers "erfnet")
)
from models.registry import available, get, register_model

__all__ = ["available", "get", "register_model"]
