"""One entry per runtime: is it installed, export to it, run it."""
from __future__ import annotations

import importlib.util
import os.path as osp
from typing import Dict, List, Optional, Union

import numpy as np
from mmengine.config import Config

from ..configs import load_cfg
from ..lite.runtimes import NCNN_BIN, NCNN_PARAM, Runner, open_runner

#: Runtimes after PyTorch, in report order. ``*-int8`` need calibration
#: crops; ``onnxruntime`` is MMDeploy's export (fp32, batch 1).
RUNTIMES = ('onnxruntime', 'onnxruntime-int8', 'ncnn', 'tflite',
            'tflite-int8')

#: Packages each runtime needs: to convert, and to run.
_NEEDS: Dict[str, List[str]] = {
    'onnxruntime': ['mmdeploy', 'onnxruntime'],
    'onnxruntime-int8': ['mmdeploy', 'onnxruntime'],
    'ncnn': ['pnnx', 'ncnn'],
    'tflite': ['litert_torch', 'ai_edge_litert'],
    'tflite-int8': ['litert_torch', 'ai_edge_quantizer', 'ai_edge_litert'],
}


def missing_packages(runtime: str) -> List[str]:
    """The packages ``runtime`` needs that are not installed ([] when it
    can be used)."""
    if runtime not in _NEEDS:
        raise ValueError(f'unknown runtime {runtime!r} (known: '
                         f'{", ".join(RUNTIMES)})')
    return [m for m in _NEEDS[runtime] if importlib.util.find_spec(m) is None]


def export_runtime(runtime: str, model_config: Union[str, Config],
                   checkpoint: str, work_dir: str,
                   crops: Optional[np.ndarray] = None,
                   keep_head_fp32: bool = False,
                   bundle: bool = True) -> str:
    """Export a checkpoint to one runtime in ``work_dir``.

    INT8 runtimes first write the fp32 model to ``work_dir/fp32`` (so
    ``work_dir`` itself holds one model file and loads with
    ``build_backend(work_dir)``), then quantize it with ``crops``. With
    ``bundle``, ``work_dir`` also gets the device code
    (:func:`~.bundle.write_bundle`): it then runs on its own.

    Returns:
        str: the model file (``.onnx``, ``.ncnn.param`` or ``.tflite``).
    """
    path = _export(runtime, model_config, checkpoint, work_dir, crops,
                   keep_head_fp32)
    if bundle:
        from .bundle import write_bundle
        write_bundle(model_config, path)
    return path


def _export(runtime: str, model_config: Union[str, Config], checkpoint: str,
            work_dir: str, crops: Optional[np.ndarray],
            keep_head_fp32: bool) -> str:
    missing = missing_packages(runtime)
    if missing:
        raise ImportError(f'runtime {runtime} needs {missing}')
    int8 = runtime.endswith('-int8')
    if int8 and crops is None:
        raise ValueError(f'{runtime} needs calibration crops')
    cfg = load_cfg(model_config)
    fp32_dir = osp.join(work_dir, 'fp32') if int8 else work_dir
    if runtime.startswith('onnxruntime'):
        from ..configs import deploy_config_path
        from .mmdeploy import export_model
        fp32 = export_model(cfg, checkpoint, fp32_dir,
                            deploy_config_path(cfg)).backend_files[0]
        if not int8:
            return fp32
        from .ort_int8 import quantize_onnx_int8
        return quantize_onnx_int8(fp32, work_dir, crops, keep_head_fp32)
    if runtime == 'ncnn':
        from .ncnn import export_ncnn
        return export_ncnn(cfg, checkpoint, work_dir)
    from .tflite import export_tflite, quantize_tflite_int8
    fp32 = export_tflite(cfg, checkpoint, fp32_dir)
    if not int8:
        return fp32
    return quantize_tflite_int8(fp32, work_dir, crops, keep_head_fp32)


def make_runner(path: str, num_threads: int = 1) -> Runner:
    """The raw-network runner of an exported file, by its extension."""
    return open_runner(path, num_threads)


def model_files(path: str) -> List[str]:
    """Every file a model needs at run time (ncnn: param and bin)."""
    if path.endswith(NCNN_PARAM):
        return [path, path[:-len(NCNN_PARAM)] + NCNN_BIN]
    return [path]


def model_size_mb(path: str) -> float:
    """Size of a model's files in MB (10^6 bytes)."""
    return sum(osp.getsize(f) for f in model_files(path)) / 1e6
