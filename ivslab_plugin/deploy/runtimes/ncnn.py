"""ncnn: export with ``pnnx``, run with the ``ncnn`` Python package.

Why pnnx and not MMDeploy's ncnn backend: MMDeploy's converter is the
``mmdeploy_onnx2ncnn`` binary, which the ``mmdeploy`` 1.3.1 wheel does not
ship (``mmdeploy.backend.ncnn.init_plugins.get_onnx2ncnn_path()`` is empty),
so it needs a source build of MMDeploy. ``pnnx`` (the ncnn project's own
PyTorch converter, a PyPI wheel) traces the PyTorch graph directly.
"""
from __future__ import annotations

import glob
import os
import os.path as osp
import tempfile
from typing import List, Optional, Union

import numpy as np
import torch
from mmengine.config import Config

from ..configs import load_cfg
from .common import (
    RuntimeBackend,
    TensorGraph,
    crop_shape,
    find_one,
    load_estimator,
    model_config_beside,
    save_model_config,
)

PARAM_SUFFIX = '.ncnn.param'
BIN_SUFFIX = '.ncnn.bin'


def export_ncnn(model_config: Union[str, Config], checkpoint: str,
                work_dir: str, name: str = 'end2end') -> str:
    """Convert a checkpoint to ncnn fp32 (``<name>.ncnn.param`` and
    ``.ncnn.bin``) with pnnx; ``model_config.py`` is saved beside them.

    Returns:
        str: the ``.ncnn.param`` path.
    """
    import pnnx
    cfg = load_cfg(model_config)
    os.makedirs(work_dir, exist_ok=True)
    graph = TensorGraph(load_estimator(cfg, checkpoint))
    param = osp.join(work_dir, name + PARAM_SUFFIX)
    weights = osp.join(work_dir, name + BIN_SUFFIX)
    # pnnx writes a TorchScript file and several intermediates next to the
    # path it is given; keep only the two ncnn files.
    with tempfile.TemporaryDirectory() as tmp:
        with torch.no_grad():
            pnnx.export(graph, osp.join(tmp, 'model.pt'),
                        (torch.zeros(crop_shape(cfg)), ), fp16=False,
                        ncnnparam=param, ncnnbin=weights,
                        pnnxparam=osp.join(tmp, 'model.pnnx.param'),
                        pnnxbin=osp.join(tmp, 'model.pnnx.bin'),
                        pnnxpy=osp.join(tmp, 'model_pnnx.py'),
                        pnnxonnx=osp.join(tmp, 'model.pnnx.onnx'),
                        ncnnpy=osp.join(tmp, 'model_ncnn.py'))
    for path in (param, weights):
        if not osp.isfile(path) or osp.getsize(path) == 0:
            raise RuntimeError(f'pnnx did not write {path}')
    save_model_config(cfg, work_dir)
    return param


class NcnnRunner:
    """An ncnn network (CPU, no Vulkan), one crop per call of the
    extractor; fp32 throughout (ncnn's default fp16 storage and arithmetic
    on ARM are switched off so results match PyTorch everywhere).

    Args:
        param (str): the ``.ncnn.param`` file (``.ncnn.bin`` beside it).
        num_threads (int): ncnn threads.
    """

    def __init__(self, param: str, num_threads: int = 1) -> None:
        import ncnn
        weights = param[:-len(PARAM_SUFFIX)] + BIN_SUFFIX \
            if param.endswith(PARAM_SUFFIX) else osp.splitext(param)[0] + '.bin'
        for path in (param, weights):
            if not osp.isfile(path):
                raise FileNotFoundError(f'ncnn file not found: {path}')
        self.net = ncnn.Net()
        opt = self.net.opt
        opt.num_threads = num_threads
        opt.use_vulkan_compute = False
        opt.use_fp16_packed = opt.use_fp16_storage = False
        opt.use_fp16_arithmetic = False
        if self.net.load_param(param) != 0:
            raise ValueError(f'{param}: not a valid ncnn param file')
        if self.net.load_model(weights) != 0:
            raise ValueError(f'{weights}: not a valid ncnn weight file for '
                             f'{param}')
        self.input_names = list(self.net.input_names())
        self.output_names = list(self.net.output_names())
        self._mat = ncnn.Mat

    def __call__(self, inputs: np.ndarray) -> List[np.ndarray]:
        outs = []
        for crop in np.ascontiguousarray(inputs, dtype=np.float32):
            ex = self.net.create_extractor()
            ex.input(self.input_names[0], self._mat(crop))
            one = []
            for name in self.output_names:
                ret, mat = ex.extract(name)
                if ret != 0:
                    raise RuntimeError(f'ncnn failed to compute {name} ({ret})')
                one.append(np.array(mat)[None])
            outs.append(one)
        return [np.concatenate(parts) for parts in zip(*outs)]


class NcnnBackend(RuntimeBackend):
    """An ncnn model as a landmark backend.

    Args:
        param (str): ``.ncnn.param`` file, or a directory holding one.
        model_config (str | Config, optional): defaults to the
            ``model_config.py`` beside the file.
        num_threads (int): ncnn threads.
    """

    def __init__(self, param: str,
                 model_config: Union[str, Config, None] = None,
                 num_threads: int = 1) -> None:
        if osp.isdir(param):
            param = find_one(param, '*' + PARAM_SUFFIX)
        # the config first: a missing config is the likelier mistake
        model_config = model_config or model_config_beside(param)
        super().__init__(NcnnRunner(param, num_threads), model_config, 'ncnn')
        self.files = [param, param[:-len(PARAM_SUFFIX)] + BIN_SUFFIX]


def ncnn_files(work_dir: str) -> Optional[List[str]]:
    """The ``.ncnn.param`` files of a directory (None when there are none)."""
    found = sorted(glob.glob(osp.join(work_dir, '*' + PARAM_SUFFIX)))
    return found or None
