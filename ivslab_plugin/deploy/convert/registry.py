"""Every runtime an export can write: find it, check it is installed,
export to it, run its file."""
from __future__ import annotations

import functools
import importlib
import importlib.util
import os.path as osp
import pkgutil
from typing import Dict, List, Optional, Union

import numpy as np
from mmengine.config import Config

from ..lite.runtimes import Runner, open_runner, runner_class
from ..model import DeployModel
from .target import TARGETS, Target


@functools.lru_cache(maxsize=None)
def targets() -> Dict[str, Target]:
    """Every registered :class:`~.target.Target`, by name, sorted.

    The converter modules of this package register their targets when
    imported; importing all of them here is what makes a new converter file
    the only place to touch.
    """
    for info in pkgutil.iter_modules([osp.dirname(__file__)]):
        importlib.import_module(f'{__package__}.{info.name}')
    return dict(sorted(TARGETS.items()))


#: Runtimes after PyTorch, in report order.
RUNTIMES = tuple(targets())


def target(runtime: str) -> Target:
    """The target of a ``--runtime`` name."""
    found = targets()
    if runtime not in found:
        raise ValueError(f'unknown runtime {runtime!r} (known: '
                         f'{", ".join(found)})')
    return found[runtime]


def missing_packages(runtime: str) -> List[str]:
    """The packages ``runtime`` needs that are not installed ([] when it
    can be used)."""
    return [m for m in target(runtime).needs if importlib.util.find_spec(m) is None]


def export_runtime(runtime: str, model_config: Union[str, Config, DeployModel],
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
        str: the model file (``.onnx``, ``.ncnn.param``, ``.tflite``, ...).
    """
    found = target(runtime)
    missing = missing_packages(runtime)
    if missing:
        raise ImportError(f'runtime {runtime} needs {missing}')
    if found.int8 and crops is None:
        raise ValueError(f'{runtime} needs calibration crops')
    model = DeployModel.of(model_config)
    if found.int8:
        fp32 = found.export(model, checkpoint, osp.join(work_dir, 'fp32'))
        path = found.quantize(fp32, work_dir, crops, keep_head_fp32)
    else:
        path = found.export(model, checkpoint, work_dir)
    if bundle:
        from .bundle import write_bundle
        write_bundle(model, path)
    return path


def make_runner(path: str, num_threads: int = 1) -> Runner:
    """The raw-network runner of an exported file, by its suffix."""
    return open_runner(path, num_threads)


def model_files(path: str) -> List[str]:
    """Every file a model needs at run time (ncnn: param and bin)."""
    return runner_class(path).files(path)


def model_size_mb(path: str) -> float:
    """Size of a model's files in MB (10^6 bytes)."""
    return sum(osp.getsize(f) for f in model_files(path)) / 1e6
