"""Low-level helpers with no OpenMMLab imports, usable from every sub-package."""
from .shipped import shipped_config, shipped_dir, shipped_tool

__all__ = ['shipped_config', 'shipped_dir', 'shipped_tool']
