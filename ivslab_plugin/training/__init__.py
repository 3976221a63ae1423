"""Training and testing runs, the distilled checkpoint's student, and the
GPU smoke run's figures."""
from .kd_checkpoint import convert_kd_checkpoint
from .runner import apply_data_overrides, load_config, test, train, train_config

__all__ = ['apply_data_overrides', 'convert_kd_checkpoint', 'load_config', 'test',
           'train', 'train_config']
