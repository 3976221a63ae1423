"""One interface to a landmark model on any backend, with the full stack
(PyTorch, MMPose's pipeline and decoding, MMDeploy).

A backend takes a BGR image and TSV-style face boxes (xyxy, the square of
side ``scale * 200`` around the centre, as in the annotation files) and
returns landmarks in image pixels. The PyTorch and ONNX Runtime backends crop
with the model config's own test pipeline (``GetBBoxCenterScale`` with the
config's ``bbox_padding``, then ``TopdownAffine``), i.e. exactly as
``tools/test.py`` does; the SDK backend runs the ``pipeline.json`` written
from that same pipeline.
"""
from __future__ import annotations

import os.path as osp
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.config import Config

from ..configs import (
    DEPLOY_CONFIG_NAME,
    MODEL_CONFIG_NAME,
    bbox_padding,
    check_deploy_config,
    load_cfg,
    model_config_beside,
    with_absolute_metainfo,
)
from ..lite.runtimes import Runner, model_files_in, runner_class
from ..model import load_estimator

Prediction = Tuple[np.ndarray, np.ndarray]


def as_bgr(image: np.ndarray) -> np.ndarray:
    """A contiguous (H, W, 3) uint8 BGR image from grey, BGR or BGRA input."""
    import cv2
    if not isinstance(image, np.ndarray) or image.ndim not in (2, 3):
        raise ValueError('expected an (H, W) or (H, W, C) image array, got '
                         f'{type(image).__name__} '
                         f'{getattr(image, "shape", "")}')
    if image.dtype != np.uint8:
        raise ValueError(f'expected a uint8 image, got {image.dtype}')
    if image.ndim == 2 or image.shape[2] == 1:
        image = cv2.cvtColor(image.reshape(image.shape[:2]),
                             cv2.COLOR_GRAY2BGR)
    elif image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    elif image.shape[2] != 3:
        raise ValueError(f'expected 1, 3 or 4 channels, got {image.shape[2]}')
    return np.ascontiguousarray(image)


def check_boxes(boxes: Union[np.ndarray, Sequence]) -> np.ndarray:
    """(N, 4) float32 xyxy boxes with positive extent."""
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    bad = (boxes[:, 2] <= boxes[:, 0]) | (boxes[:, 3] <= boxes[:, 1])
    if bad.any() or not np.isfinite(boxes).all():
        raise ValueError(f'boxes must be finite xyxy with x2 > x1 and y2 > y1,'
                         f' got {boxes[bad | ~np.isfinite(boxes).all(1)]}')
    return boxes


class LandmarkBackend:
    """Base class: ``predict(image, boxes)`` -> (keypoints, scores).

    Note:
        ``boxes`` (N, 4) xyxy in image pixels; ``keypoints`` (N, K, 2) in
        image pixels; ``scores`` (N, K).
    """

    name = 'base'

    def predict(self, image: np.ndarray, boxes: np.ndarray) -> Prediction:
        image, boxes = as_bgr(image), check_boxes(boxes)
        if len(boxes) == 0:
            k = self.num_keypoints
            return (np.zeros((0, k, 2), np.float32),
                    np.zeros((0, k), np.float32))
        return self._predict(image, boxes)

    @property
    def num_keypoints(self) -> int:
        raise NotImplementedError

    @property
    def bbox_padding(self) -> float:
        """How much the model pads a TSV box before cropping."""
        raise NotImplementedError

    def _predict(self, image: np.ndarray, boxes: np.ndarray) -> Prediction:
        raise NotImplementedError


class _TopdownBackend(LandmarkBackend):
    """Shared crop + ``test_step`` for models built from an MMPose config."""

    model: Any
    pipeline: Any
    dataset_meta: Dict
    batch_size: Optional[int] = None  # None: all faces in one batch

    model_cfg: Config

    @property
    def num_keypoints(self) -> int:
        return int(self.dataset_meta['num_keypoints'])

    @property
    def bbox_padding(self) -> float:
        return bbox_padding(self.model_cfg)

    def inputs(self, image: np.ndarray, boxes: np.ndarray) -> List[dict]:
        """The test pipeline applied to each box (MMPose's data dicts)."""
        samples = []
        for box in boxes:
            data = dict(img=image, bbox=box[None],
                        bbox_score=np.ones(1, dtype=np.float32))
            data.update(self.dataset_meta)
            samples.append(self.pipeline(data))
        return samples

    def _run(self, samples: List[dict]) -> list:
        from mmengine.dataset import pseudo_collate
        step = self.batch_size or len(samples)
        results = []
        with torch.no_grad():
            for i in range(0, len(samples), step):
                results += self.model.test_step(
                    pseudo_collate(samples[i:i + step]))
        return results

    def _predict(self, image: np.ndarray, boxes: np.ndarray) -> Prediction:
        results = self._run(self.inputs(image, boxes))
        kpts = np.stack([r.pred_instances.keypoints[0] for r in results])
        scores = np.stack(
            [r.pred_instances.keypoint_scores[0] for r in results])
        return kpts.astype(np.float32), scores.astype(np.float32)

    def raw_outputs(self, inputs: torch.Tensor) -> List[np.ndarray]:
        """The network's outputs for normalised crops (B, 3, H, W)."""
        raise NotImplementedError

    def preprocess(self, samples: List[dict]) -> torch.Tensor:
        """Normalised (B, 3, H, W) crops, as the network sees them."""
        from mmengine.dataset import pseudo_collate
        with torch.no_grad():
            return self.model.data_preprocessor(pseudo_collate(samples),
                                                False)['inputs']


def _pipeline_and_meta(model_cfg: Config) -> Tuple[Any, Dict]:
    from mmengine.dataset import Compose
    from mmengine.registry import init_default_scope
    from mmpose.apis.inference import dataset_meta_from_config
    init_default_scope(model_cfg.get('default_scope', 'mmpose'))
    pipeline = Compose(model_cfg.test_dataloader.dataset.pipeline)
    meta = dataset_meta_from_config(model_cfg, dataset_mode='test')
    if meta is None:
        raise ValueError('the model config has no dataset metainfo '
                         '(test_dataloader.dataset.metainfo)')
    return pipeline, meta


class TorchBackend(_TopdownBackend):
    """A PyTorch checkpoint.

    Args:
        config (str | Config): the model config.
        checkpoint (str): the ``.pth`` file.
        device (str): torch device.
        flip_test (bool, optional): override the config's ``test_cfg``;
            ``None`` keeps it (as ``tools/test.py`` does). Exported models
            never flip, so parity checks pass ``False``.
    """

    name = 'pytorch'

    def __init__(self,
                 config: Union[str, Config],
                 checkpoint: str,
                 device: str = 'cpu',
                 flip_test: Optional[bool] = None):
        from mmpose.apis import init_model
        if not osp.isfile(checkpoint):
            raise FileNotFoundError(f'checkpoint not found: {checkpoint}')
        cfg = with_absolute_metainfo(load_cfg(config))
        self.model_cfg = cfg
        self.pipeline, self.dataset_meta = _pipeline_and_meta(cfg)
        self.model = init_model(cfg, checkpoint, device=device)
        # A checkpoint may carry another dataset's meta; the crop pipeline
        # and flip pairs come from the config.
        self.model.dataset_meta = self.dataset_meta
        if flip_test is not None:
            self.model.test_cfg['flip_test'] = flip_test

    def raw_outputs(self, inputs: torch.Tensor) -> List[np.ndarray]:
        with torch.no_grad():
            out = self.model(inputs, None, mode='tensor')
        out = out if isinstance(out, (tuple, list)) else [out]
        return [o.cpu().numpy() for o in out]


class OnnxRuntimeBackend(_TopdownBackend):
    """An ONNX model through MMDeploy's backend model (ONNX Runtime).

    Args:
        onnx_file (str): the ``.onnx`` file written by :func:`export_model`.
        model_config (str | Config, optional): defaults to the
            ``model_config.py`` beside the file.
        deploy_config (str | Config, optional): defaults to the
            ``deploy_config.py`` beside the file.
        device (str): ``'cpu'`` (or ``'cuda'`` with onnxruntime-gpu).
    """

    name, suffix = 'onnxruntime', '.onnx'

    def __init__(self,
                 onnx_file: str,
                 model_config: Union[str, Config, None] = None,
                 deploy_config: Union[str, Config, None] = None,
                 device: str = 'cpu'):
        from mmdeploy.apis.utils import build_task_processor
        if not osp.isfile(onnx_file):
            raise FileNotFoundError(f'ONNX file not found: {onnx_file}')
        work_dir = osp.dirname(onnx_file)
        model_cfg = with_absolute_metainfo(
            load_cfg(model_config or _beside(work_dir, MODEL_CONFIG_NAME)))
        deploy_cfg = load_cfg(deploy_config or _beside(work_dir,
                                                       DEPLOY_CONFIG_NAME))
        check_deploy_config(deploy_cfg, model_cfg)
        self.model_cfg, self.deploy_cfg = model_cfg, deploy_cfg
        self.pipeline, self.dataset_meta = _pipeline_and_meta(model_cfg)
        processor = build_task_processor(model_cfg, deploy_cfg, device)
        self.model = processor.build_backend_model([onnx_file])
        # A static export takes one crop at a time.
        self.batch_size = None if deploy_cfg.onnx_config.get(
            'dynamic_axes') else 1

    def raw_outputs(self, inputs: torch.Tensor) -> List[np.ndarray]:
        outs = []
        step = self.batch_size or len(inputs)
        for i in range(0, len(inputs), step):
            out = self.model.wrapper(
                {self.model.input_name: inputs[i:i + step].contiguous()})
            outs.append([o.float().cpu().numpy()
                         for o in self.model.wrapper.output_to_list(out)])
        return [np.concatenate(parts) for parts in zip(*outs)]


class SdkBackend(LandmarkBackend):
    """An MMDeploy SDK directory (``mmdeploy_runtime.PoseDetector``).

    Args:
        sdk_dir (str): a directory with ``deploy.json``, ``pipeline.json``,
            ``detail.json`` and the backend file.
        device (str): ``'cpu'`` or ``'cuda'``.
    """

    name = 'sdk'

    def __init__(self, sdk_dir: str, device: str = 'cpu'):
        try:
            from mmdeploy_runtime import PoseDetector
        except ImportError as err:
            raise ImportError('the SDK backend needs mmdeploy-runtime '
                              '(pip install mmdeploy-runtime==1.3.1)') from err
        missing = [
            n for n in ('deploy.json', 'pipeline.json', 'detail.json')
            if not osp.isfile(osp.join(sdk_dir, n))
        ]
        if missing:
            raise FileNotFoundError(
                f'{sdk_dir} is not an MMDeploy SDK directory: missing '
                f'{missing} (export with a *_sdk_* deploy config)')
        import json
        with open(osp.join(sdk_dir, 'pipeline.json')) as f:
            tasks = json.load(f)['pipeline']['tasks']
        self._padding = next(
            (float(t['padding']) for task in tasks
             for t in task.get('transforms', [])
             if t.get('type') == 'TopDownGetBboxCenterScale'), 1.25)
        self._num_keypoints = _sdk_num_keypoints(sdk_dir)
        self.detector = PoseDetector(
            model_path=sdk_dir, device_name=device.split(':')[0], device_id=0)

    @property
    def num_keypoints(self) -> int:
        return self._num_keypoints

    @property
    def bbox_padding(self) -> float:
        return self._padding

    def _predict(self, image: np.ndarray, boxes: np.ndarray) -> Prediction:
        # The SDK's TopDownGetBboxCenterScale takes the box width as
        # x2 - x1 + 1 (the MMPose 0.x convention); MMPose 1.x, and so
        # training, uses x2 - x1. Measured: without this the SDK's crops are
        # one pixel wider and keypoints drift by up to ~1.3 % of the box.
        boxes = boxes.copy()
        boxes[:, 2:] -= 1
        out = np.asarray(self.detector(image, boxes.tolist()),
                         dtype=np.float32).reshape(len(boxes), -1, 3)
        return out[..., :2].copy(), out[..., 2].copy()


class RuntimeBackend(_TopdownBackend):
    """A landmark backend around a raw-network runner (ncnn, LiteRT, ...):
    the config's test pipeline crops, the runner runs the network, the
    config's head decodes (the same ``decode`` and ``add_pred_to_datasample``
    that PyTorch uses), so every runtime returns what :class:`TorchBackend`
    returns. The estimator is built without weights: only its data
    pre-processor and its head's codec are used.

    Args:
        runner: raw network, (B, 3, H, W) -> list of outputs.
        model_config (str | Config): the model config.
        name (str): backend name in reports.
    """

    files: List[str] = []

    def __init__(self, runner: Runner, model_config: Union[str, Config],
                 name: str) -> None:
        cfg = with_absolute_metainfo(load_cfg(model_config))
        self.model_cfg = cfg
        self.pipeline, self.dataset_meta = _pipeline_and_meta(cfg)
        self.model = load_estimator(cfg)
        self.model.dataset_meta = self.dataset_meta
        self.runner = runner
        self.name = name

    @classmethod
    def from_file(cls, path: str, model_config: Union[str, Config, None] = None,
                  num_threads: int = 1) -> 'RuntimeBackend':
        """The model file's runner (chosen by its suffix) with the model
        config saved beside it."""
        kind = runner_class(path)
        # the config first: a missing config is the likelier mistake
        model_config = model_config or model_config_beside(path)
        backend = cls(kind(path, num_threads), model_config, kind.name)
        backend.files = kind.files(path)
        return backend

    def raw_outputs(self, inputs: torch.Tensor) -> List[np.ndarray]:
        return self.runner(inputs.contiguous().numpy().astype(np.float32))

    def _run(self, samples: List[dict]) -> list:
        from mmengine.dataset import pseudo_collate
        with torch.no_grad():
            data = self.model.data_preprocessor(pseudo_collate(samples), False)
        return decode_outputs(self.model, self.raw_outputs(data['inputs']),
                              data['data_samples'])


def decode_outputs(model: torch.nn.Module, outputs: Sequence[np.ndarray],
                   data_samples: list) -> list:
    """MMPose's decoding of raw network outputs into image-space keypoints
    (``head.decode`` then ``add_pred_to_datasample``), as
    ``TopdownPoseEstimator.predict`` does without flip test."""
    feats = tuple(torch.from_numpy(np.ascontiguousarray(o)) for o in outputs)
    preds = model.head.decode(feats if len(feats) > 1 else feats[0])
    return model.add_pred_to_datasample(preds, None, data_samples)


def _sdk_num_keypoints(sdk_dir: str) -> int:
    """Keypoint count of an SDK model, from the model config saved beside
    it by :func:`export_model` (51, the ivslab markup, without one)."""
    path = osp.join(sdk_dir, MODEL_CONFIG_NAME)
    if osp.isfile(path):
        return int(Config.fromfile(path).model.head.out_channels)
    return 51


def _beside(work_dir: str, name: str) -> str:
    path = osp.join(work_dir, name)
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'{path} not found: pass the config explicitly, or export with '
            'tools/deploy.py, which saves it beside the backend files')
    return path


def build_backend(model: str,
                  config: Union[str, Config, None] = None,
                  deploy_config: Union[str, Config, None] = None,
                  device: str = 'cpu',
                  sdk: bool = False) -> LandmarkBackend:
    """A backend chosen by what ``model`` is.

    Args:
        model (str): a ``.pth`` checkpoint (needs ``config``), an ``.onnx``
            file (MMDeploy's ONNX Runtime model: fp32, fp16 or INT8), another
            runtime's model file (``.ncnn.param``, ``.tflite``: any suffix
            of ``lite.runtimes.RUNNERS``), or an export folder holding
            exactly one model file (its ``fp32/`` and ``detector/``
            subfolders are not searched).
        config (str | Config, optional): the model config (default for
            exported files: ``model_config.py`` beside them).
        deploy_config (str | Config, optional): the deploy config (ONNX).
        device (str): device name (ncnn and LiteRT run on the CPU).
        sdk (bool): run the folder's MMDeploy SDK files (``pipeline.json``)
            instead of its model file. The SDK crops and decodes in its own
            C++ code; the model file is what the export's parity check
            measured, so it is the default.
    """
    if sdk:
        return SdkBackend(model, device)
    if osp.isdir(model):
        found = model_files_in(model)
        if len(found) != 1:
            raise FileNotFoundError(
                f'{model}: expected one model file ({", ".join(_suffixes())}), '
                f'found {len(found)}: {[osp.basename(f) for f in found]}')
        model = found[0]
    if model.endswith('.pth'):
        if config is None:
            raise ValueError('a .pth checkpoint needs its model config')
        return TorchBackend(config, model, device)
    if model.endswith(OnnxRuntimeBackend.suffix):
        return OnnxRuntimeBackend(model, config, deploy_config, device)
    if any(model.endswith(s) for s in _suffixes()):
        return RuntimeBackend.from_file(model, config)
    raise ValueError(f'cannot tell the backend of {model!r}: give a .pth '
                     f'checkpoint, a model file ({", ".join(_suffixes())}) '
                     'or an export folder')


def _suffixes() -> List[str]:
    from ..lite.runtimes import RUNNERS
    return [cls.suffix for cls in RUNNERS.values()]
