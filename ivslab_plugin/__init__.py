"""ivslab_plugin: low-power facial-landmark detection on MMPose 1.x."""
from . import compat

# The fixes must be in place before the OpenMMLab packages import torchvision
# or load a checkpoint.
compat.apply()

from . import datasets, evaluation, models  # noqa: E402,F401  (registers modules)
from .version import __version__  # noqa: E402

__all__ = ['__version__', 'compat', 'datasets', 'evaluation', 'models']
