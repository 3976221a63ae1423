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
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from ..lite.detect import (
    HAAR_TO_TSV,
    IDENTITY,
    BlazeFaceDetector,
    BoxTransform,
    FaceDetector,
    HaarFaceDetector,
    fit_box_transform,
)
from .backends import LandmarkBackend, as_bgr, check_boxes

__all__ = ['HAAR_TO_TSV', 'IDENTITY', 'BlazeFaceDetector', 'BoxTransform',
           'FaceDetector', 'HaarFaceDetector', 'fit_box_transform',
           'MMDetFaceDetector', 'FaceLandmarks', 'FaceLandmarkPipeline',
           'default_detector', 'load_image', 'rightmost_first']


def load_image(path: str) -> np.ndarray:
    """Read an image file as (H, W, 3) uint8 BGR (greyscale and 16-bit
    images are converted)."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: image not found')
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f'{path}: not a readable image')
    return image


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


@dataclass
class FaceLandmarks:
    """One face found in an image.

    Note:
        ``box`` (4,) xyxy as detected (or given); ``face_box`` (4,) the
        TSV-style box the model cropped around; ``keypoints`` (K, 2) image
        pixels; ``keypoint_scores`` (K,).
    """

    box: np.ndarray
    box_score: float
    face_box: np.ndarray
    keypoints: np.ndarray
    keypoint_scores: np.ndarray

    def to_dict(self) -> Dict[str, Any]:
        return dict(
            box=[round(float(v), 3) for v in self.box],
            box_score=round(float(self.box_score), 5),
            face_box=[round(float(v), 3) for v in self.face_box],
            keypoints=[[round(float(x), 3), round(float(y), 3)]
                       for x, y in self.keypoints],
            keypoint_scores=[round(float(s), 5)
                             for s in self.keypoint_scores])


def rightmost_first(faces: Sequence[FaceLandmarks]) -> List[FaceLandmarks]:
    """Faces ordered by the centre of their face box, right-most first (the
    challenge's order for several faces)."""
    return sorted(faces, key=lambda f: -(f.face_box[0] + f.face_box[2]))


def default_detector(log=None, variant: str = 'full') -> FaceDetector:
    """BlazeFace (``variant``: full or short range) when it is in the cache (``python -m
    ivslab_plugin.deploy.assets`` fetches it), else the Haar cascade."""
    from ..assets import cached_blazeface
    path = cached_blazeface(variant)
    if path is None:
        if log:
            log('BlazeFace is not in the cache (python -m '
                'ivslab_plugin.deploy.assets fetches it): using the Haar '
                'cascade')
        return HaarFaceDetector()
    return BlazeFaceDetector(path)


class FaceLandmarkPipeline:
    """Face detection and landmarks with one output format for every backend.

    Args:
        backend (LandmarkBackend): PyTorch, ONNX Runtime or SDK.
        detector (FaceDetector, optional): used when no boxes are given;
            :func:`default_detector` by default.
    """

    def __init__(self,
                 backend: LandmarkBackend,
                 detector: Optional[FaceDetector] = None):
        self.backend = backend
        self.detector = detector if detector is not None else \
            default_detector()

    def __call__(self,
                 image: Union[str, np.ndarray],
                 face_boxes: Optional[np.ndarray] = None
                 ) -> List[FaceLandmarks]:
        """Landmarks of every face in ``image``.

        Args:
            image (str | np.ndarray): a path or a grey/BGR/BGRA uint8 array.
            face_boxes (np.ndarray, optional): (N, 4) TSV-style boxes
                (e.g. from ``test_q.tsv``); skips the detector.

        Returns:
            list[FaceLandmarks]: in detection (or given) order; empty when
            no face is found.
        """
        image = load_image(image) if isinstance(image, str) else as_bgr(image)
        if face_boxes is not None:
            face_boxes = check_boxes(face_boxes)
            boxes, scores = face_boxes, np.ones(len(face_boxes), np.float32)
        else:
            boxes, scores = self.detector(image)
            face_boxes = self.detector.face_boxes(boxes)
        kpts, kpt_scores = self.backend.predict(image, face_boxes)
        return [
            FaceLandmarks(boxes[i], float(scores[i]), face_boxes[i], kpts[i],
                          kpt_scores[i]) for i in range(len(face_boxes))
        ]
