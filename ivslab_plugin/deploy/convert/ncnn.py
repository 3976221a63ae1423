"""ncnn: export with ``pnnx``, run with the ``ncnn`` Python package.

Why pnnx and not MMDeploy's ncnn backend: MMDeploy's converter is the
``mmdeploy_onnx2ncnn`` binary, which the ``mmdeploy`` 1.3.1 wheel does not
ship (``mmdeploy.backend.ncnn.init_plugins.get_onnx2ncnn_path()`` is empty),
so it needs a source build of MMDeploy. ``pnnx`` (the ncnn project's own
PyTorch converter, a PyPI wheel) traces the PyTorch graph directly.
"""
from __future__ import annotations

import os
import os.path as osp
import tempfile
from typing import Union

import torch
from mmengine.config import Config

from ..configs import save_model_config
from ..lite.runtimes import NcnnRunner
from ..model import DeployModel, TensorGraph, load_estimator
from .target import FP32_PARITY, Target, register


def export_ncnn(model_config: Union[str, Config, DeployModel], checkpoint: str,
                work_dir: str, name: str = 'end2end') -> str:
    """Convert a checkpoint to ncnn fp32 (``<name>.ncnn.param`` and
    ``.ncnn.bin``) with pnnx; ``model_config.py`` is saved beside them.

    Returns:
        str: the ``.ncnn.param`` path.
    """
    import pnnx
    model = DeployModel.of(model_config)
    os.makedirs(work_dir, exist_ok=True)
    graph = TensorGraph(load_estimator(model, checkpoint))
    param, weights = NcnnRunner.files(osp.join(work_dir, name + NcnnRunner.suffix))
    # pnnx writes a TorchScript file and several intermediates next to the
    # path it is given; keep only the two ncnn files.
    with tempfile.TemporaryDirectory() as tmp:
        with torch.no_grad():
            pnnx.export(graph, osp.join(tmp, 'model.pt'),
                        (torch.zeros(model.crop_shape), ), fp16=False,
                        ncnnparam=param, ncnnbin=weights,
                        pnnxparam=osp.join(tmp, 'model.pnnx.param'),
                        pnnxbin=osp.join(tmp, 'model.pnnx.bin'),
                        pnnxpy=osp.join(tmp, 'model_pnnx.py'),
                        pnnxonnx=osp.join(tmp, 'model.pnnx.onnx'),
                        ncnnpy=osp.join(tmp, 'model_ncnn.py'))
    for path in (param, weights):
        if not osp.isfile(path) or osp.getsize(path) == 0:
            raise RuntimeError(f'pnnx did not write {path}')
    save_model_config(model.cfg, work_dir)
    return param


register(Target('ncnn', runner=NcnnRunner.name, needs=('pnnx', 'ncnn'),
                export=export_ncnn, parity=FP32_PARITY))
