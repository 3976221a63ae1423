"""Student head, distillation losses and the distiller (registered in
MMPose's ``MODELS``)."""
from .distillers import *  # noqa: F401,F403
from .heads import *  # noqa: F401,F403
from .losses import *  # noqa: F401,F403
