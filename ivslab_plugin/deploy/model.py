"""The network that every export converts: built from a config, weights
loaded, crops in and head outputs out."""
from __future__ import annotations

import os.path as osp
from typing import Any, List, Optional, Tuple, Union

import numpy as np
import torch
from mmengine.config import Config
from torch import nn

from .configs import load_cfg

Runner = Any  # Callable[[np.ndarray], List[np.ndarray]], see lite.runtimes


class TensorGraph(nn.Module):
    """The exported graph of a top-down estimator: normalised crops in, head
    outputs out (what MMDeploy exports too: no pre-processing, no decoding).

    Note:
        input (B, 3, H, W) float32; output a heatmap (B, K, h, w) or the
        SimCC pair ((B, K, W*r), (B, K, H*r)).
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, inputs: torch.Tensor):
        return self.model._forward(inputs)


def load_estimator(model_cfg: Union[str, Config],
                   checkpoint: Optional[str] = None) -> nn.Module:
    """The top-down estimator of a config on the CPU in eval mode, with the
    checkpoint's weights when one is given (a distiller's student)."""
    from mmengine.registry import init_default_scope
    from mmengine.runner import load_checkpoint
    from mmpose.registry import MODELS

    import ivslab_plugin  # noqa: F401  (registers the plugin's modules)
    cfg = load_cfg(model_cfg)
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    model_def = cfg.model.student if 'student' in cfg.model else cfg.model
    model = MODELS.build(model_def)
    if checkpoint is not None:
        if not osp.isfile(checkpoint):
            raise FileNotFoundError(f'checkpoint not found: {checkpoint}')
        load_checkpoint(model, checkpoint, map_location='cpu', logger='silent')
    return model.eval()


def crop_shape(model_cfg: Config) -> Tuple[int, int, int, int]:
    """(1, 3, H, W): the network input of one crop."""
    w, h = model_cfg.codec.input_size if 'codec' in model_cfg else \
        model_cfg.input_size
    return 1, 3, int(h), int(w)


def as_output_list(out: Any) -> List[np.ndarray]:
    """A network's output(s) as a list of float32 arrays."""
    out = out if isinstance(out, (tuple, list)) else [out]
    return [np.asarray(o.detach() if isinstance(o, torch.Tensor) else o,
                       dtype=np.float32) for o in out]


def torch_runner(model: nn.Module, num_threads: Optional[int] = None) -> Runner:
    """PyTorch eager as a runner (the latency reference)."""
    graph = TensorGraph(model).eval()
    if num_threads:
        torch.set_num_threads(num_threads)

    def run(inputs: np.ndarray) -> List[np.ndarray]:
        with torch.inference_mode():
            return as_output_list(graph(torch.from_numpy(inputs)))

    return run
