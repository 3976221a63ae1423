"""What every embedded runtime shares: the exported graph, a backend that
decodes raw outputs with the model's own head, and model loading.

A runtime is split in two: a *runner* (``__call__(inputs) -> outputs`` on
normalised crops (B, 3, H, W), the raw network only, used for parity and
latency) and a :class:`RuntimeBackend` (the crop pipeline and MMPose's
decoding around a runner, the inference pipeline's interface).
"""
from __future__ import annotations

import os.path as osp
import shutil
from typing import Any, Callable, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.config import Config
from torch import nn

from ..backends import MODEL_CONFIG_NAME, _pipeline_and_meta, _TopdownBackend
from ..configs import load_cfg, with_absolute_metainfo

Runner = Callable[[np.ndarray], List[np.ndarray]]


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


def save_model_config(model_cfg: Union[str, Config], work_dir: str) -> str:
    """Write ``model_config.py`` beside the runtime files, so the directory
    alone rebuilds the backend (as ``export_model`` does for ONNX)."""
    path = osp.join(work_dir, MODEL_CONFIG_NAME)
    if isinstance(model_cfg, str) and osp.abspath(model_cfg) == path:
        return path
    load_cfg(model_cfg).dump(path)
    return path


def copy_configs(src_dir: str, dst_dir: str, names: Sequence[str]) -> None:
    """Copy the saved configs of one export next to another's files."""
    for name in names:
        shutil.copyfile(osp.join(src_dir, name), osp.join(dst_dir, name))


class RuntimeBackend(_TopdownBackend):
    """A landmark backend around a runner: the config's test pipeline crops,
    the runner runs the network, the config's head decodes (the same
    ``decode`` and ``add_pred_to_datasample`` that PyTorch uses), so every
    runtime returns the same format as :class:`TorchBackend`.

    The estimator is built from the config without weights: only its data
    pre-processor and its head's codec are used.

    Args:
        runner: raw network, (B, 3, H, W) -> list of outputs.
        model_config (str | Config): the model config.
        name (str): backend name in reports.
    """

    def __init__(self, runner: Runner, model_config: Union[str, Config],
                 name: str) -> None:
        cfg = with_absolute_metainfo(load_cfg(model_config))
        self.model_cfg = cfg
        self.pipeline, self.dataset_meta = _pipeline_and_meta(cfg)
        self.model = load_estimator(cfg)
        self.model.dataset_meta = self.dataset_meta
        self.runner = runner
        self.name = name

    def raw_outputs(self, inputs: torch.Tensor) -> List[np.ndarray]:
        return self.runner(inputs.contiguous().numpy().astype(np.float32))

    def _run(self, samples: List[dict]) -> list:
        from mmengine.dataset import pseudo_collate
        with torch.no_grad():
            data = self.model.data_preprocessor(pseudo_collate(samples), False)
        return decode_outputs(self.model, self.raw_outputs(data['inputs']),
                              data['data_samples'])


def decode_outputs(model: nn.Module, outputs: Sequence[np.ndarray],
                   data_samples: list) -> list:
    """MMPose's decoding of raw network outputs into image-space keypoints
    (``head.decode`` then ``add_pred_to_datasample``), as
    ``TopdownPoseEstimator.predict`` does without flip test."""
    feats = tuple(torch.from_numpy(np.ascontiguousarray(o)) for o in outputs)
    preds = model.head.decode(feats if len(feats) > 1 else feats[0])
    return model.add_pred_to_datasample(preds, None, data_samples)


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


def find_one(work_dir: str, pattern: str) -> str:
    """The one file matching ``pattern`` in ``work_dir``."""
    import glob
    found = sorted(glob.glob(osp.join(work_dir, pattern)))
    if len(found) != 1:
        raise FileNotFoundError(f'{work_dir}: expected one {pattern} file, '
                                f'found {len(found)}')
    return found[0]


def model_config_beside(path: str) -> str:
    """The ``model_config.py`` saved next to a runtime file."""
    cfg = osp.join(osp.dirname(osp.abspath(path)), MODEL_CONFIG_NAME)
    if not osp.isfile(cfg):
        raise FileNotFoundError(
            f'{cfg} not found: pass the model config explicitly, or export '
            'with tools/deploy_embedded.py, which saves it beside the model')
    return cfg
