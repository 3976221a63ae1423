"""INT8 post-training quantization with ONNX Runtime (static, QDQ).

``onnxruntime.quantization.quant_pre_process`` (shape inference, graph
optimisation) then ``quantize_static``: QDQ format, per-channel symmetric
int8 weights and int8 activations (S8S8), MinMax calibration on real face
crops. Not U8S8 (uint8 activations): on x86 CPUs without VNNI, ONNX
Runtime's U8S8 kernels use 16-bit intermediate sums that can saturate
(its quantization docs), which is how one model measured -0.2 % NME on one
machine and +736 % on another; S8S8 has no such path. ``keep_head_fp32``
leaves every node of the head (every node outside ``/backbone/`` and
``/neck/``, see :func:`head_nodes`) in float, for when whole-graph INT8 costs too much accuracy.
"""
from __future__ import annotations

import os
import os.path as osp
import tempfile
from typing import Iterator, List, Optional, Sequence

import numpy as np

from ..configs import DEPLOY_CONFIG_NAME, MODEL_CONFIG_NAME, copy_configs

#: Per-channel QDQ (``DequantizeLinear`` with ``axis``) needs opset 13.
PER_CHANNEL_OPSET = 13

#: Node-name prefixes of what is *not* the head in MMDeploy's ONNX export.
#: MMDeploy's rewrite of the estimator's forward calls the head's layers
#: directly, so they are named ``/upsample/...``, ``/final_layer/...`` (no
#: ``/head/`` level), while the backbone and neck keep their prefixes.
BODY_PREFIXES = ('/backbone/', '/neck/')


class _CropReader:
    """``onnxruntime.quantization.CalibrationDataReader`` over crops."""

    def __init__(self, input_name: str, crops: np.ndarray) -> None:
        self.input_name = input_name
        self._iter: Iterator = iter(crops)

    def get_next(self) -> Optional[dict]:
        crop = next(self._iter, None)
        return None if crop is None else {
            self.input_name: crop[None].astype(np.float32)}


def head_nodes(onnx_file: str) -> List[str]:
    """Names of the nodes that belong to the head (after the backbone and
    neck)."""
    import onnx
    nodes = onnx.load(onnx_file).graph.node
    if not any(n.name.startswith(BODY_PREFIXES) for n in nodes):
        raise ValueError(f'{onnx_file}: no node named {BODY_PREFIXES}: '
                         'cannot tell the head apart')
    return [n.name for n in nodes if not n.name.startswith(BODY_PREFIXES)]


def quantize_onnx_int8(onnx_file: str, work_dir: str, crops: np.ndarray,
                       keep_head_fp32: bool = False,
                       nodes_to_exclude: Sequence[str] = (),
                       name: str = 'end2end_int8.onnx') -> str:
    """Quantize an fp32 ONNX export to INT8 (QDQ) with calibration crops.

    Args:
        onnx_file (str): a static (batch 1) fp32 export.
        work_dir (str): output directory; the export's ``model_config.py``
            and ``deploy_config.py`` are copied there, so
            ``build_backend(work_dir)`` loads it like any ONNX export.
        crops (np.ndarray): (N, 3, H, W) normalised calibration crops.
        keep_head_fp32 (bool): do not quantize the head's nodes.
        nodes_to_exclude: further node names to keep in float.
        name (str): output file name.

    Returns:
        str: the INT8 ``.onnx`` path.
    """
    import onnx
    import onnx.version_converter
    from onnxruntime.quantization import (
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quant_pre_process,
        quantize_static,
    )
    if not osp.isfile(onnx_file):
        raise FileNotFoundError(f'ONNX file not found: {onnx_file}')
    crops = np.asarray(crops, dtype=np.float32)
    if crops.ndim != 4 or len(crops) == 0:
        raise ValueError(f'calibration crops must be (N, 3, H, W) with N > 0, '
                         f'got {crops.shape}')
    os.makedirs(work_dir, exist_ok=True)
    out = osp.join(work_dir, name)
    with tempfile.TemporaryDirectory() as tmp:
        pre = osp.join(tmp, 'pre.onnx')
        model = onnx.load(onnx_file)
        opset = next(o.version for o in model.opset_import
                     if o.domain in ('', 'ai.onnx'))
        if opset < PER_CHANNEL_OPSET:
            # MMDeploy exports opset 11; per-channel QDQ needs the ``axis``
            # of DequantizeLinear, which opset 13 introduced.
            model = onnx.version_converter.convert_version(
                model, PER_CHANNEL_OPSET)
        src = osp.join(tmp, 'opset.onnx')
        onnx.save(model, src)  # quant_pre_process mishandles a ModelProto
        quant_pre_process(src, pre, skip_symbolic_shape=True)
        exclude = list(nodes_to_exclude)
        if keep_head_fp32:
            exclude += head_nodes(pre)
        input_name = onnx.load(pre).graph.input[0].name
        quantize_static(pre, out, _CropReader(input_name, crops),
                        quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QInt8,
                        weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax,
                        nodes_to_exclude=exclude or None)
    src = osp.dirname(osp.abspath(onnx_file))
    if osp.abspath(work_dir) != src:
        copy_configs(src, work_dir, [MODEL_CONFIG_NAME, DEPLOY_CONFIG_NAME])
    return out
