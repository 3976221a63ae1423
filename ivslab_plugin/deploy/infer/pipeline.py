"""Image -> face boxes -> 51 landmarks per face, on any backend.

The crop rule is the training one. A face box given to the model is the
annotation files' box: the square of side ``scale * 200`` (``scale`` =
1.05 x the shorter side of the 51 landmarks' box, eyebrows to mouth) around
the landmarks' centre. The model config's test pipeline then pads it by
``bbox_padding`` (1.6 in ``configs/ivslab/_base_/ivslab_face.py``) and warps
it to the input size. Detector boxes are first mapped to that TSV-style box
by a :class:`BoxTransform`. The detectors themselves (BlazeFace, Haar) are
the device code's (:mod:`ivslab_plugin.deploy.lite.detect`), so the full
stack and an exported bundle find the same faces.
"""
from __future__ import annotations

import os.path as osp
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

from ..lite.detect import (
    HAAR_TO_TSV,
    IDENTITY,
    BlazeFaceDetector,
    BoxTransform,
    FaceDetector,
    HaarFaceDetector,
    ShortThenFull,
    fit_box_transform,
)
from ..lite.face import Face, read_image
from ..lite.landmarker import Landmarker
from .backends import LandmarkBackend, as_bgr, check_boxes

__all__ = ['HAAR_TO_TSV', 'IDENTITY', 'BlazeFaceDetector', 'BoxTransform',
           'FaceDetector', 'HaarFaceDetector', 'ShortThenFull', 'fit_box_transform',
           'MMDetFaceDetector', 'FaceLandmarkPipeline', 'build_detector',
           'default_detector']


class MMDetFaceDetector(FaceDetector):
    """Any MMDetection detector from a local config and checkpoint.

    Args:
        config (str): the mmdet config.
        checkpoint (str): its checkpoint (nothing is downloaded).
        device (str): torch device.
        score_thr (float): keep boxes scoring at least this.
        labels (Sequence[int], optional): keep only these class ids (e.g.
            the face class of a multi-class detector).
        box_transform (BoxTransform): its box -> TSV box. Defaults to the
            Haar assumption (face detectors trained on WIDER FACE box
            forehead to chin, like Haar); measure it with
            :func:`fit_box_transform`.
    """

    def __init__(self,
                 config: str,
                 checkpoint: str,
                 device: str = 'cpu',
                 score_thr: float = 0.5,
                 labels: Optional[Sequence[int]] = None,
                 box_transform: BoxTransform = HAAR_TO_TSV):
        from mmdet.apis import init_detector
        for path in (config, checkpoint):
            if not osp.isfile(path):
                raise FileNotFoundError(f'detector file not found: {path}')
        self.model = init_detector(config, checkpoint, device=device)
        self.score_thr = score_thr
        self.labels = None if labels is None else set(labels)
        self.box_transform = box_transform

    def __call__(self, image: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        from mmdet.apis import inference_detector
        from mmengine.registry import DefaultScope
        # mmdet builds its test pipeline in its own scope; the landmark
        # model's transforms live in mmpose's.
        with DefaultScope.overwrite_default_scope('mmdet'):
            pred = inference_detector(self.model, as_bgr(image)).pred_instances
        boxes = pred.bboxes.cpu().numpy().astype(np.float32)
        scores = pred.scores.cpu().numpy().astype(np.float32)
        # degenerate boxes carry no face and would fail the crop
        keep = (scores >= self.score_thr) & (boxes[:, 2] > boxes[:, 0]) \
            & (boxes[:, 3] > boxes[:, 1])
        if self.labels is not None:
            keep &= np.isin(pred.labels.cpu().numpy(), list(self.labels))
        return boxes[keep], scores[keep]


def default_detector(log=None, variant: str = 'auto') -> FaceDetector:
    """BlazeFace (``variant``: ``'auto'``, the bundles' default
    :class:`~..lite.detect.ShortThenFull`, or ``'full'`` / ``'short'``
    range) when it is in the cache (``python -m
    ivslab_plugin.deploy.assets`` fetches it), else the Haar cascade."""
    from ..assets import cached_blazeface
    paths = {v: cached_blazeface(v) for v in
             (('short', 'full') if variant == 'auto' else (variant, ))}
    if None in paths.values():
        if log:
            log('BlazeFace is not in the cache (python -m '
                'ivslab_plugin.deploy.assets fetches it): using the Haar '
                'cascade')
        return HaarFaceDetector()
    if variant == 'auto':
        return ShortThenFull(BlazeFaceDetector(paths['short']),
                             BlazeFaceDetector(paths['full']))
    return BlazeFaceDetector(paths[variant])


def build_detector(det_config: Optional[str] = None, det_checkpoint: Optional[str] = None,
                   device: str = 'cpu', det_score_thr: float = 0.5,
                   det_labels: Optional[Sequence[int]] = None, haar: bool = False,
                   haar_cascade: Optional[str] = None,
                   box_transform: Optional[Sequence[float]] = None,
                   log=None) -> FaceDetector:
    """The face detector the tools' options name: an MMDetection model
    (config and checkpoint), the Haar cascade, or :func:`default_detector`;
    ``box_transform`` (scale, shift_x, shift_y) replaces its measured one.

    Raises:
        ValueError: half an MMDetection model, or a box transform for the
            two-model default.
    """
    if bool(det_config) != bool(det_checkpoint):
        raise ValueError('give both --det-config and --det-checkpoint')
    if det_config:
        detector: FaceDetector = MMDetFaceDetector(det_config, det_checkpoint, device,
                                                   det_score_thr, det_labels)
    elif haar or haar_cascade:
        detector = HaarFaceDetector(haar_cascade)
    else:
        detector = default_detector(log=log)
    if box_transform:
        if isinstance(detector, ShortThenFull):
            raise ValueError('--box-transform fits one detector, and the default '
                             'runs two BlazeFace models: give it with --haar or '
                             '--det-config')
        detector.box_transform = BoxTransform(*box_transform)
    return detector


class FaceLandmarkPipeline(Landmarker):
    """The device code's :class:`~..lite.landmarker.Landmarker` on a
    full-stack backend: faces right-most first, as
    :class:`~..lite.face.Face`.

    Args:
        backend (LandmarkBackend): PyTorch, ONNX Runtime, the SDK, ncnn or
            LiteRT.
        detector (FaceDetector, optional): used when no boxes are given;
            :func:`default_detector` by default.
    """

    def __init__(self,
                 backend: LandmarkBackend,
                 detector: Optional[FaceDetector] = None):
        super().__init__(backend, detector if detector is not None else
                         default_detector(), backend.bbox_padding)
        self.backend = backend

    def __call__(self,
                 image: Union[str, np.ndarray],
                 face_boxes: Optional[np.ndarray] = None) -> List[Face]:
        """Landmarks of every face in ``image`` (a path or a grey/BGR/BGRA
        uint8 array); ``face_boxes`` (N, 4) annotation-style boxes (e.g.
        from ``test_q.tsv``) skip the detector."""
        image = read_image(image) if isinstance(image, str) else as_bgr(image)
        if face_boxes is not None:
            face_boxes = check_boxes(face_boxes)
        return super().__call__(image, face_boxes)
