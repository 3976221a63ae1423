"""The network that every export converts: built from a config, weights
loaded, crops in and head outputs out."""
from __future__ import annotations

import os.path as osp
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Tuple, Union

import numpy as np
import torch
from mmengine.config import Config
from torch import nn

from .configs import bbox_padding, head_kind, load_cfg

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


@dataclass
class DeployModel:
    """What an export needs of a model config, read once and passed down.

    A distiller's config is unwrapped to its student: the student is what
    ships.
    """

    cfg: Config
    #: the network's config (``cfg.model``, or its student)
    network: Dict
    #: (w, h) of a crop
    input_size: Tuple[int, int]
    #: MMPose's codec of the head (``head.decoder``, else ``cfg.codec``)
    codec: Dict
    #: ``'heatmap'`` or ``'simcc'`` (:func:`~.configs.head_kind`)
    head_kind: str
    #: ``GetBBoxCenterScale``'s padding of the test pipeline
    padding: float
    num_keypoints: int

    @classmethod
    def of(cls, model: Union[str, Config, 'DeployModel']) -> 'DeployModel':
        """A config path or Config read into a :class:`DeployModel` (one is
        returned as it is)."""
        if isinstance(model, DeployModel):
            return model
        cfg = load_cfg(model)
        network = cfg.model.student if 'student' in cfg.model else cfg.model
        w, h = cfg.codec.input_size if 'codec' in cfg else cfg.input_size
        codec = network.head.get('decoder') or cfg.get('codec')
        return cls(cfg=cfg, network=network, input_size=(int(w), int(h)),
                   codec=codec, head_kind=head_kind(cfg),
                   padding=bbox_padding(cfg),
                   num_keypoints=int(network.head.out_channels))

    @property
    def crop_shape(self) -> Tuple[int, int, int, int]:
        """(1, 3, H, W): the network input of one crop."""
        return 1, 3, self.input_size[1], self.input_size[0]


def load_estimator(model_cfg: Union[str, Config, DeployModel],
                   checkpoint: Optional[str] = None) -> nn.Module:
    """The top-down estimator of a config on the CPU in eval mode, with the
    checkpoint's weights when one is given (a distiller's student)."""
    from mmengine.registry import init_default_scope
    from mmengine.runner import load_checkpoint
    from mmpose.registry import MODELS

    import ivslab_plugin  # noqa: F401  (registers the plugin's modules)
    model = DeployModel.of(model_cfg)
    init_default_scope(model.cfg.get('default_scope', 'mmpose'))
    model = MODELS.build(model.network)
    if checkpoint is not None:
        if not osp.isfile(checkpoint):
            raise FileNotFoundError(f'checkpoint not found: {checkpoint}')
        load_checkpoint(model, checkpoint, map_location='cpu', logger='silent')
    return model.eval()


def crop_shape(model_cfg: Union[str, Config, DeployModel]) -> Tuple[int, int, int, int]:
    """(1, 3, H, W): the network input of one crop."""
    return DeployModel.of(model_cfg).crop_shape


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
