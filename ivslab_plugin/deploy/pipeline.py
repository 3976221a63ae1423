"""Image -> face boxes -> 51 landmarks per face, on any backend.

The crop rule is the training one. A face box given to the model is the
annotation files' box: the square of side ``scale * 200`` (``scale`` =
1.05 x the shorter side of the 51 landmarks' box, eyebrows to mouth) around
the landmarks' centre. The model config's test pipeline then pads it by
``bbox_padding`` (1.25 in ``configs/ivslab/_base_/ivslab_face.py``) and warps
it to the input size. Detector boxes are first mapped to that TSV-style box
by a :class:`BoxTransform`.
"""
from __future__ import annotations

import os.path as osp
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np

from .backends import LandmarkBackend, as_bgr, check_boxes

IMAGE_EXTS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp')


def load_image(path: str) -> np.ndarray:
    """Read an image file as (H, W, 3) uint8 BGR (greyscale and 16-bit
    images are converted)."""
    if not osp.isfile(path):
        raise FileNotFoundError(f'image not found: {path}')
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f'not a readable image: {path}')
    return image


@dataclass(frozen=True)
class BoxTransform:
    """Detector box (xyxy) -> TSV-style square face box (xyxy).

    ``side = scale * min(w, h)``, centre ``(cx + shift_x * w, cy + shift_y *
    h)`` where ``w, h, cx, cy`` describe the detector box.
    """

    scale: float = 1.0
    shift_x: float = 0.0
    shift_y: float = 0.0

    def __call__(self, boxes: np.ndarray) -> np.ndarray:
        boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
        w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
        cx = (boxes[:, 0] + boxes[:, 2]) / 2 + self.shift_x * w
        cy = (boxes[:, 1] + boxes[:, 3]) / 2 + self.shift_y * h
        half = self.scale * np.minimum(w, h) / 2
        return np.stack([cx - half, cy - half, cx + half, cy + half],
                        axis=1).astype(np.float32)


#: OpenCV's frontal-face Haar box -> TSV box, measured with
#: :func:`fit_box_transform` on 172 faces of the real-face sample data
#: (``tools/build_sample_data.py``; dlib-labelled, 1 in 3 faces, Haar box
#: containing the TSV centre): medians scale 0.627, shift_x -0.030,
#: shift_y 0.049. shift_x is set to 0 since a frontal face is symmetric and
#: the measured offset comes from one head-turned video subject dominating
#: the sample. Re-measure on your own labelled data with fit_box_transform.
HAAR_TO_TSV = BoxTransform(scale=0.63, shift_x=0.0, shift_y=0.05)
#: Boxes already in the annotation files' convention.
IDENTITY = BoxTransform()


def fit_box_transform(detected: np.ndarray,
                      reference: np.ndarray) -> BoxTransform:
    """Measure a :class:`BoxTransform` from matched box pairs.

    Args:
        detected (np.ndarray): (N, 4) detector boxes, xyxy.
        reference (np.ndarray): (N, 4) TSV boxes of the same faces, xyxy.

    Returns:
        BoxTransform: medians of the per-face scale and shifts (robust to a
        few bad matches).
    """
    detected = check_boxes(detected)
    reference = check_boxes(reference)
    if len(detected) != len(reference) or not len(detected):
        raise ValueError('need the same, non-zero number of detected and '
                         f'reference boxes, got {len(detected)} and '
                         f'{len(reference)}')
    w = detected[:, 2] - detected[:, 0]
    h = detected[:, 3] - detected[:, 1]
    side = reference[:, 2] - reference[:, 0]
    scale = side / np.minimum(w, h)
    shift_x = ((reference[:, 0] + reference[:, 2]) -
               (detected[:, 0] + detected[:, 2])) / 2 / w
    shift_y = ((reference[:, 1] + reference[:, 3]) -
               (detected[:, 1] + detected[:, 3])) / 2 / h
    return BoxTransform(float(np.median(scale)), float(np.median(shift_x)),
                        float(np.median(shift_y)))


class FaceDetector:
    """``detector(image) -> (boxes (N, 4) xyxy, scores (N,))``.

    ``box_transform`` maps its boxes to the TSV convention.
    """

    box_transform: BoxTransform = IDENTITY

    def __call__(self, image: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError


class HaarFaceDetector(FaceDetector):
    """OpenCV's frontal-face Haar cascade (ships with opencv-python).

    Args:
        cascade (str, optional): a cascade XML; OpenCV's
            ``haarcascade_frontalface_default.xml`` by default.
        scale_factor (float): image pyramid step.
        min_neighbors (int): detections needed to keep a face. 8 rather
            than OpenCV's usual 5: on the sample data's 46 labelled photo
            faces it kept 28 of 30 hits and cut other boxes from 19 to 6.
        min_face (int): smallest face side in pixels of the original image.
        max_side (int): images are searched at most this large (longer side),
            so very large images stay fast; boxes are scaled back.
        box_transform (BoxTransform): Haar box -> TSV box.
    """

    def __init__(self,
                 cascade: Optional[str] = None,
                 scale_factor: float = 1.1,
                 min_neighbors: int = 8,
                 min_face: int = 24,
                 max_side: int = 1280,
                 box_transform: BoxTransform = HAAR_TO_TSV):
        cascade = cascade or osp.join(cv2.data.haarcascades,
                                      'haarcascade_frontalface_default.xml')
        self.classifier = cv2.CascadeClassifier(cascade)
        if self.classifier.empty():
            raise FileNotFoundError(f'cannot load Haar cascade {cascade!r}')
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self.min_face = min_face
        self.max_side = max_side
        self.box_transform = box_transform

    def __call__(self, image: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        grey = cv2.cvtColor(as_bgr(image), cv2.COLOR_BGR2GRAY)
        ratio = min(1.0, self.max_side / max(grey.shape))
        if ratio < 1.0:
            grey = cv2.resize(grey, None, fx=ratio, fy=ratio,
                              interpolation=cv2.INTER_AREA)
        min_size = max(1, int(round(self.min_face * ratio)))
        if min(grey.shape) < min_size:
            return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
        grey = cv2.equalizeHist(grey)
        rects, _, weights = self.classifier.detectMultiScale3(
            grey, scaleFactor=self.scale_factor,
            minNeighbors=self.min_neighbors, minSize=(min_size, min_size),
            outputRejectLevels=True)
        if len(rects) == 0:
            return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
        rects = np.asarray(rects, dtype=np.float32).reshape(-1, 4) / ratio
        boxes = np.concatenate([rects[:, :2], rects[:, :2] + rects[:, 2:]], 1)
        # levelWeights: the cascade's last-stage confidence (unbounded).
        return boxes, np.asarray(weights, dtype=np.float32).reshape(-1)


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


class FaceLandmarkPipeline:
    """Face detection and landmarks with one output format for every backend.

    Args:
        backend (LandmarkBackend): PyTorch, ONNX Runtime or SDK.
        detector (FaceDetector, optional): used when no boxes are given;
            a :class:`HaarFaceDetector` by default.
    """

    def __init__(self,
                 backend: LandmarkBackend,
                 detector: Optional[FaceDetector] = None):
        self.backend = backend
        self.detector = detector if detector is not None else \
            HaarFaceDetector()

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
            face_boxes = self.detector.box_transform(boxes)
        kpts, kpt_scores = self.backend.predict(image, face_boxes)
        return [
            FaceLandmarks(boxes[i], float(scores[i]), face_boxes[i], kpts[i],
                          kpt_scores[i]) for i in range(len(face_boxes))
        ]
