"""Neural network architectures: plain ``nn.Module``s, no training logic.

``get(name)(**kwargs)`` builds a registered model; importing this package
registers every architecture it ships.
"""

from models import (
    aed_cnn,  # noqa: F401  (registers "aed_cnn")
    av_localisation,  # noqa: F401  (registers "av_localisation")
    crnn,  # noqa: F401  (registers "crnn")
    erfnet,  # noqa: F401  (registers "erfnet")
    pann_cnn14,  # noqa: F401  (registers "pann_cnn14")
    pann_resnet38,  # noqa: F401  (registers "pann_resnet38")
    salamon_cnn,  # noqa: F401  (registers "salamon_cnn")
    transcoder_cnn,  # noqa: F401  (registers "transcoder_cnn", "deep_head")
    yamnet,  # noqa: F401  (registers "yamnet")
)
from models.registry import available, from_checkpoint, get, register_model

__all__ = ["available", "from_checkpoint", "get", "register_model"]
