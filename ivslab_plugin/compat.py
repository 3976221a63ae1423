"""Small fixes that let the pinned OpenMMLab stack run on current PyTorch.

Each fix is applied once, when ``ivslab_plugin`` is imported, and only where
the upstream problem is present. Nothing here weakens ``torch.load``'s
``weights_only`` protection: checkpoints are loaded with an allow-list.
"""
from __future__ import annotations

import functools
import importlib.util
import os
import pickle
import sys
from typing import Any, Callable, List, Optional

import numpy as np
import torch

_APPLIED: List[str] = []


def _patch_torchvision_ops() -> None:
    """Let the registry's CUDA torchvision import beside a CPU torch.

    Upstream problem: torchvision's ``_C.so`` links ``libc10_cuda.so``; with a
    CPU torch it fails to load, and ``import torchvision`` then raises
    ``RuntimeError: operator torchvision::nms does not exist`` while
    registering fake kernels. Declaring the two op schemas it registers
    kernels for lets it import. Nothing in this stack calls torchvision's
    compiled ops (mmcv has its own NMS / RoIAlign), and MMPose imports
    torchvision unconditionally.
    """
    if 'torchvision' in sys.modules or importlib.util.find_spec(
            'torchvision') is None:
        return
    try:
        import torchvision  # noqa: F401
        return
    except RuntimeError as err:
        if 'torchvision::nms' not in str(err):
            raise
    for name in [m for m in sys.modules if m.split('.')[0] == 'torchvision']:
        del sys.modules[name]
    global _TORCHVISION_LIB
    _TORCHVISION_LIB = torch.library.Library('torchvision', 'DEF')
    _TORCHVISION_LIB.define(
        'nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor')
    _TORCHVISION_LIB.define(
        'qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor')
    import torchvision  # noqa: F401,F811
    _APPLIED.append('torchvision_ops')


_TORCHVISION_LIB = None


def _history_buffer_method(obj: Any, name: str) -> Any:
    """The only ``getattr`` an MMEngine checkpoint needs, and nothing more.

    A pickled ``HistoryBuffer`` holds its statistics methods (``min``,
    ``max``, ``current``, ``mean``), which pickle as
    ``getattr(HistoryBuffer, 'min')``. A
    general ``getattr`` would let a checkpoint reach any attribute of any
    allowed object, so this one only returns those statistics methods.
    """
    from mmengine.logging import HistoryBuffer

    allowed = {'min', 'max', 'current', 'mean'}
    allowed |= set(HistoryBuffer._statistics_methods)
    if (obj is HistoryBuffer or isinstance(obj, HistoryBuffer)) \
            and name in allowed:
        return getattr(obj, name)
    raise pickle.UnpicklingError(
        f'checkpoint asks for getattr({type(obj).__name__}, {name!r}); only '
        'HistoryBuffer statistics methods are allowed')


def checkpoint_safe_globals() -> List[Any]:
    """Globals that MMEngine checkpoints hold besides tensors.

    ``message_hub`` stores ``HistoryBuffer`` objects of numpy arrays (with
    bound statistics methods), and ``meta`` holds numpy scalars (for
    example the best score of ``save_best``).
    """
    import numpy as np
    from mmengine.logging import HistoryBuffer

    multiarray = np.core.multiarray
    return [
        # protocol-2 pickles rebuild bytes objects through a bytes(...) call
        bytes,
        HistoryBuffer,
        np.ndarray,
        np.dtype,
        multiarray._reconstruct,
        multiarray.scalar,
        *{type(np.dtype(t)) for t in 'fdbBhHiIlLqQ?'},
        (_history_buffer_method, 'builtins.getattr'),
        (_history_buffer_method, '__builtin__.getattr'),
    ]


def _safe_loader(loader: Callable) -> Callable:
    """``loader`` run inside ``torch.serialization.safe_globals``."""

    @functools.wraps(loader)
    def load_safe(*args: Any, **kwargs: Any) -> Any:
        with torch.serialization.safe_globals(checkpoint_safe_globals()):
            return loader(*args, **kwargs)

    load_safe._ivslab_safe = True  # type: ignore[attr-defined]
    return load_safe


def _load_url_weights_only(url: str, model_dir: Optional[str] = None,
                           map_location: Any = None, progress: bool = True,
                           check_hash: bool = False,
                           file_name: Optional[str] = None) -> Any:
    """MMEngine's ``load_url`` (download once into ``$TORCH_HOME``, then
    load), with ``weights_only=True``."""
    return torch.hub.load_state_dict_from_url(
        url, model_dir=model_dir, map_location=map_location, progress=progress,
        check_hash=check_hash, file_name=file_name, weights_only=True)


def _patch_checkpoint_loading() -> None:
    """Load MMEngine checkpoints with ``weights_only=True`` and an allow-list.

    Upstream problem: since torch 2.6 ``torch.load`` defaults to
    ``weights_only=True`` and MMEngine 0.10 checkpoints (numpy arrays,
    ``HistoryBuffer``) fail to load with ``UnpicklingError``. Rather than
    turning the protection off, every MMEngine checkpoint loader (local files,
    ``http(s)://`` URLs such as a config's ``init_cfg=dict(type='Pretrained',
    checkpoint=URL)``, ``open-mmlab://``, ...) runs inside
    ``torch.serialization.safe_globals`` with the few types it needs, so a
    checkpoint carrying any other pickled object is still refused, wherever
    it comes from.

    Second upstream problem: every URL scheme ends in MMEngine's
    ``load_url``, which is ``torch.hub.load_state_dict_from_url`` whose
    ``weights_only`` defaults to False, so a downloaded checkpoint could run
    any pickled code. MMEngine's checkpoint module gets a ``load_url`` that
    passes ``weights_only=True``.
    """
    import mmengine.runner.checkpoint as mm_checkpoint
    from mmengine.runner.checkpoint import CheckpointLoader

    mm_checkpoint.load_url = _load_url_weights_only

    schemes = CheckpointLoader._schemes
    wrapped = False
    for prefix, loader in list(schemes.items()):
        if not getattr(loader, '_ivslab_safe', False):
            schemes[prefix] = _safe_loader(loader)
            wrapped = True
    if wrapped and 'checkpoint_safe_globals' not in _APPLIED:
        _APPLIED.append('checkpoint_safe_globals')


def _patch_onnx_export() -> None:
    """Default ``torch.onnx.export`` to the TorchScript exporter.

    Upstream problem: since torch 2.9 ``torch.onnx.export`` uses the dynamo
    exporter unless ``dynamo=False`` is passed. MMDeploy 1.3's ``torch2onnx``
    does not pass it, so export fails (``No module named 'onnxscript'``), and
    MMDeploy's rewriters work at the TorchScript level anyway.
    """
    import torch.onnx

    export: Callable = torch.onnx.export
    if getattr(export, '_ivslab_legacy', False):
        return

    @functools.wraps(export)
    def legacy_export(*args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault('dynamo', False)
        return export(*args, **kwargs)

    legacy_export._ivslab_legacy = True  # type: ignore[attr-defined]
    torch.onnx.export = legacy_export
    _APPLIED.append('onnx_legacy_export')


def _patch_albumentation_seeding() -> None:
    """Let MMEngine's ``randomness.seed`` reach MMPose's ``Albumentation``.

    Upstream problem: albumentations >= 1.4 gives each ``Compose`` its own
    generator seeded from the OS, so two runs with the same seed trained
    different models (measured: a 20-epoch test student ended at NME_pupil
    0.06 in one run and 0.14 in another). Fix: the first time the transform
    runs in a process, seed it from numpy's global generator, which MMEngine
    seeds in the main process and, differently, in every dataloader worker.
    """
    try:
        from mmpose.datasets.transforms import Albumentation
    except ImportError:
        return
    transform = Albumentation.transform
    if getattr(transform, '_ivslab_seeded', False):
        return

    @functools.wraps(transform)
    def seeded_transform(self: Any, results: dict) -> Any:
        if getattr(self, '_ivslab_seeded_pid', None) != os.getpid():
            if hasattr(self.aug, 'set_random_seed'):
                self.aug.set_random_seed(int(np.random.randint(2**31)))
            self._ivslab_seeded_pid = os.getpid()
        return transform(self, results)

    seeded_transform._ivslab_seeded = True  # type: ignore[attr-defined]
    Albumentation.transform = seeded_transform
    _APPLIED.append('albumentation_seeding')


def apply() -> List[str]:
    """Apply every fix once; return the names of those applied so far."""
    # albumentations checks PyPI for a newer version on import; there is no
    # network at run time.
    os.environ.setdefault('NO_ALBUMENTATIONS_UPDATE', '1')
    _patch_torchvision_ops()
    _patch_checkpoint_loading()
    _patch_onnx_export()
    _patch_albumentation_seeding()
    return list(_APPLIED)
