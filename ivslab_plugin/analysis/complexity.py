"""Multiply-adds and parameters of a pose model, as MMEngine counts them."""
from __future__ import annotations

from typing import Dict, Optional, Sequence

import torch
from mmengine.config import Config

from ivslab_plugin.deploy.model import TensorGraph, load_estimator


def model_complexity(cfg: Config,
                     input_size: Optional[Sequence[int]] = None) -> Dict[str, float]:
    """Count one forward pass of the network a config deploys (the exported
    graph: crops in, head outputs out; a distillation config counts its
    student).

    Args:
        cfg: The config.
        input_size: (W, H); defaults to the config's ``input_size``.

    Returns:
        dict: ``gmacs`` (multiply-adds / 1e9, what MMEngine reports as
        "flops"), ``mparams`` (all parameters / 1e6, including built but
        unused layers), ``input_size`` (W, H).
    """
    from mmengine.analysis import get_model_complexity_info

    w, h = input_size or cfg.input_size
    model = TensorGraph(load_estimator(cfg)).eval()
    with torch.no_grad():
        info = get_model_complexity_info(
            model, inputs=(torch.zeros(1, 3, h, w), ), show_table=False,
            show_arch=False)
    return dict(gmacs=info['flops'] / 1e9, mparams=info['params'] / 1e6,
                input_size=(w, h))
