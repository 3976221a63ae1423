"""LiteRT (TFLite): convert with ``litert-torch``, run with ``ai-edge-litert``.

Why ``litert-torch``: it converts the PyTorch module directly (torch.export,
no ONNX hop), and it installs with
this stack's pins (torch 2.13, numpy 1.26.4, protobuf 3.20.2). ``onnx2tf``
needs TensorFlow, whose wheels require ``protobuf>=3.20.3`` (this stack pins
3.20.2 for ``onnxconverter-common``) and add ~600 MB more. ``litert-torch``
is heavy (jax, jaxlib, transformers, litert-converter: measured ~0.9 GB in
this venv, ~80 s from a warm wheel cache), so it is an optional extra
(``requirements/litert.txt``); the runtime ``ai-edge-litert`` (59 MB) is in
the default install, so ``.tflite`` files run everywhere.

INT8: ``ai-edge-quantizer`` (Google's TFLite quantizer, a litert-torch
dependency) on the fp32 ``.tflite``: static int8 weights (per channel) and
activations, calibrated on the same face crops as ONNX Runtime. The
recipe quantizes the model's input and output too (int8 tensors, as NPUs
want them); the runner (``lite.runtimes.TFLiteRunner``) converts with their
scale and zero point. litert-torch's own quantization path is not used: it
fails on this backbone (its ``adaptive_avg_pool2d`` annotator rejects the
node torch 2.13's export makes of CSPNeXt's channel attention pooling).
"""
from __future__ import annotations

import os
import os.path as osp
from typing import Union

import numpy as np
import torch
from mmengine.config import Config

from ..configs import MODEL_CONFIG_NAME, copy_configs, save_model_config
from ..lite.runtimes import TFLiteRunner
from ..model import DeployModel, TensorGraph, load_estimator
from .target import FP32_PARITY, INT8_PARITY, Target, register

INSTALL_HINT = ('litert-torch is an optional extra: '
                'IVSLAB_EXTRAS=requirements/litert.txt make install')

#: litert-torch names each op by its module path (``<type>_<attribute>``
#: per level, e.g. ``.../CSPNeXt_backbone/...``); the head's modules show up
#: without a ``head`` level, so the head is every op outside the backbone and
#: neck. (ai-edge-quantizer matches with ``re.search``.)
HEAD_SCOPE_REGEX = r'^(?!.*_backbone/)(?!.*_neck/)'


def _litert_torch():
    try:
        import litert_torch
    except ImportError as err:
        raise ImportError(f'TFLite export needs litert-torch ({INSTALL_HINT})'
                          ) from err
    return litert_torch


def export_tflite(model_config: Union[str, Config, DeployModel], checkpoint: str,
                  work_dir: str, name: str = 'end2end.tflite') -> str:
    """Convert a checkpoint to an fp32 ``.tflite`` file with litert-torch
    (``model_config.py`` is saved beside it).

    Returns:
        str: the ``.tflite`` path.
    """
    litert_torch = _litert_torch()
    model = DeployModel.of(model_config)
    os.makedirs(work_dir, exist_ok=True)
    graph = TensorGraph(load_estimator(model, checkpoint)).eval()
    path = osp.join(work_dir, name)
    with torch.no_grad():
        edge = litert_torch.convert(graph, (torch.zeros(model.crop_shape), ))
    edge.export(path)
    save_model_config(model.cfg, work_dir)
    return path


def quantize_tflite_int8(float_model: str, work_dir: str, crops: np.ndarray,
                         keep_head_fp32: bool = False,
                         name: str = 'end2end_int8.tflite') -> str:
    """INT8 post-training quantization of an fp32 ``.tflite`` file with
    ``ai-edge-quantizer`` (installed with litert-torch): its
    ``static_wi8_ai8`` recipe (per-channel int8 weights, int8 activations,
    min/max calibration), calibrated on the same crops as ONNX Runtime.

    Args:
        float_model (str): an fp32 ``.tflite`` from :func:`export_tflite`.
        work_dir (str): output directory (the model config is copied there).
        crops (np.ndarray): (N, 3, H, W) normalised calibration crops.
        keep_head_fp32 (bool): leave the head's ops in float (see
            ``HEAD_SCOPE_REGEX``).
        name (str): output file name.

    Returns:
        str: the INT8 ``.tflite`` path.
    """
    _litert_torch()
    from ai_edge_litert.interpreter import Interpreter
    from ai_edge_quantizer import algorithm_manager, qtyping, quantizer, recipe
    if not osp.isfile(float_model):
        raise FileNotFoundError(f'TFLite file not found: {float_model}')
    crops = np.asarray(crops, dtype=np.float32)
    if crops.ndim != 4 or len(crops) == 0:
        raise ValueError('calibration crops must be (N, 3, H, W) with N > 0, '
                         f'got {crops.shape}')
    signatures = Interpreter(model_path=float_model).get_signature_list()
    key = next(iter(signatures))
    input_name = signatures[key]['inputs'][0]
    qt = quantizer.Quantizer(float_model)
    qt.load_quantization_recipe(recipe.static_wi8_ai8())
    # ai-edge-quantizer 0.10 cannot quantize CONV_2D_TRANSPOSE (measured on
    # HeatmapHead's deconvolutions: per channel it writes scales LiteRT
    # refuses, "num_scales must be 1 ... got 32"; per tensor it fails on the
    # bias), so deconvolutions stay float. The student's head has none.
    qt.update_quantization_recipe(
        regex='.*',
        operation_name=qtyping.TFLOperationName.CONV_2D_TRANSPOSE,
        algorithm_key=algorithm_manager.AlgorithmName.NO_QUANTIZE)
    if keep_head_fp32:
        qt.update_quantization_recipe(
            regex=HEAD_SCOPE_REGEX,
            operation_name=qtyping.TFLOperationName.ALL_SUPPORTED,
            algorithm_key=algorithm_manager.AlgorithmName.NO_QUANTIZE)
    calibration = qt.calibrate(
        {key: [{input_name: c[None]} for c in crops]}, num_threads=1)
    os.makedirs(work_dir, exist_ok=True)
    path = osp.join(work_dir, name)
    result = qt.quantize(calibration, enable_progress_report=False)
    result.export_model(path, overwrite=True)
    src = osp.dirname(osp.abspath(float_model))
    if osp.abspath(work_dir) != src:
        copy_configs(src, work_dir, [MODEL_CONFIG_NAME])
    return path


_LITERT = ('litert_torch', 'ai_edge_litert')
register(Target('tflite', runner=TFLiteRunner.name, needs=_LITERT,
                export=export_tflite, parity=FP32_PARITY))
register(Target('tflite-int8', runner=TFLiteRunner.name,
                needs=_LITERT + ('ai_edge_quantizer', ), export=export_tflite,
                parity=INT8_PARITY, quantize=quantize_tflite_int8))
