"""Multiply-adds and parameters of a pose model, as MMEngine counts them."""
from __future__ import annotations

from typing import Dict, Optional, Sequence

import torch
from mmengine.config import Config
from torch import nn


class _TensorForward(nn.Module):
    """Calls a pose estimator in ``tensor`` mode (image in, head outputs out),
    the graph that gets exported."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, inputs: torch.Tensor):
        return self.model(inputs, None, mode='tensor')


def deployed_model(cfg: Config) -> nn.Module:
    """Build the model a config deploys: the student of a distiller."""
    from mmengine.registry import init_default_scope
    from mmpose.registry import MODELS

    init_default_scope(cfg.get('default_scope', 'mmpose'))
    model_cfg = cfg.model
    if 'student' in model_cfg:
        model_cfg = model_cfg.student
    return MODELS.build(model_cfg).eval()


def model_complexity(cfg: Config,
                     input_size: Optional[Sequence[int]] = None) -> Dict[str, float]:
    """Count one forward pass of a config's deployed model.

    Args:
        cfg: The config (a distillation config counts its student).
        input_size: (W, H); defaults to the config's ``input_size``.

    Returns:
        dict: ``gmacs`` (multiply-adds / 1e9, what MMEngine reports as
        "flops"), ``mparams`` (all parameters / 1e6, including built but
        unused layers), ``input_size`` (W, H).
    """
    from mmengine.analysis import get_model_complexity_info

    w, h = input_size or cfg.input_size
    model = _TensorForward(deployed_model(cfg)).eval()
    with torch.no_grad():
        info = get_model_complexity_info(
            model, inputs=(torch.zeros(1, 3, h, w), ), show_table=False,
            show_arch=False)
    return dict(gmacs=info['flops'] / 1e9, mparams=info['params'] / 1e6,
                input_size=(w, h))
