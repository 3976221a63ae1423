"""Face detection on the device: MediaPipe's BlazeFace, or OpenCV's Haar
cascade when no BlazeFace model is at hand.

A detector returns boxes in its own convention; a :class:`BoxTransform`
maps them to the annotation files' face box (the square of side 1.05 x the
shorter side of the landmarks' box), which is what the landmark model was
trained to crop around.
"""
from __future__ import annotations

import os.path as osp
from dataclasses import dataclass
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np

from .errors import BundleError
from .runtimes import import_runtime

Detections = Tuple[np.ndarray, np.ndarray]  # (N, 4) xyxy, (N,) scores


@dataclass(frozen=True)
class BoxTransform:
    """Detector box (xyxy) -> annotation-style square face box (xyxy).

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


#: Boxes already in the annotation files' convention.
IDENTITY = BoxTransform()
#: OpenCV's frontal-face Haar box -> face box, measured with
#: :func:`fit_box_transform` on 172 dlib-labelled faces of the sample data
#: (medians scale 0.627, shift_x -0.030, shift_y 0.049; shift_x set to 0 as
#: a frontal face is symmetric).
HAAR_TO_TSV = BoxTransform(scale=0.63, shift_x=0.0, shift_y=0.05)


def fit_box_transform(detected: np.ndarray,
                      reference: np.ndarray) -> BoxTransform:
    """Measure a :class:`BoxTransform` from matched (N, 4) detector and
    face boxes: the medians of the per-face scale and shifts."""
    detected = np.asarray(detected, np.float32).reshape(-1, 4)
    reference = np.asarray(reference, np.float32).reshape(-1, 4)
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


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix (N, M) of xyxy boxes."""
    a = np.asarray(a, np.float32).reshape(-1, 4)
    b = np.asarray(b, np.float32).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(rb - lt, 0, None), axis=2)
    area_a = np.prod(a[:, 2:] - a[:, :2], axis=1)
    area_b = np.prod(b[:, 2:] - b[:, :2], axis=1)
    return inter / np.maximum(area_a[:, None] + area_b[None] - inter, 1e-9)


def weighted_nms(boxes: np.ndarray, scores: np.ndarray,
                 iou_thr: float) -> Detections:
    """MediaPipe's weighted non-maximum suppression: each kept box is the
    score-weighted mean of the boxes that overlap the best one by more than
    ``iou_thr``; it keeps the best score."""
    order = np.argsort(-scores, kind='stable')
    boxes, scores = boxes[order], scores[order]
    out_boxes, out_scores = [], []
    alive = np.ones(len(boxes), bool)
    for i in range(len(boxes)):
        if not alive[i]:
            continue
        group = alive & (box_iou(boxes[i], boxes)[0] > iou_thr)
        group[i] = True
        w = scores[group][:, None]
        out_boxes.append((boxes[group] * w).sum(0) / w.sum())
        out_scores.append(scores[i])
        alive &= ~group
    if not out_boxes:
        return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
    return (np.asarray(out_boxes, np.float32),
            np.asarray(out_scores, np.float32))


class FaceDetector:
    """``detector(image) -> (boxes (N, 4) xyxy, scores (N,))`` after its
    score threshold and NMS; ``face_boxes`` maps boxes to face boxes."""

    box_transform: BoxTransform = IDENTITY
    name = 'detector'

    def __call__(self, image: np.ndarray) -> Detections:
        raise NotImplementedError

    def face_boxes(self, boxes: np.ndarray) -> np.ndarray:
        return self.box_transform(boxes)


class HaarFaceDetector(FaceDetector):
    """OpenCV's frontal-face Haar cascade (ships with OpenCV).

    Args:
        cascade (str, optional): a cascade XML; OpenCV's
            ``haarcascade_frontalface_default.xml`` by default.
        scale_factor (float): image pyramid step.
        min_neighbors (int): detections needed to keep a face (8 rather than
            OpenCV's usual 5: on the sample data's 46 labelled photo faces it
            kept 28 of 30 hits and cut other boxes from 19 to 6).
        min_face (int): smallest face side in pixels.
        max_side (int): images are searched at most this large.
        iou_thr (float): NMS overlap.
        box_transform (BoxTransform): Haar box -> face box.
    """

    name = 'haar'

    def __init__(self, cascade: Optional[str] = None,
                 scale_factor: float = 1.1, min_neighbors: int = 8,
                 min_face: int = 24, max_side: int = 1280,
                 iou_thr: float = 0.3,
                 box_transform: BoxTransform = HAAR_TO_TSV) -> None:
        cascade = cascade or osp.join(cv2.data.haarcascades,
                                      'haarcascade_frontalface_default.xml')
        self.classifier = cv2.CascadeClassifier(cascade)
        if self.classifier.empty():
            raise BundleError(f'{cascade}: cannot load the Haar cascade')
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors
        self.min_face = min_face
        self.max_side = max_side
        self.iou_thr = iou_thr
        self.box_transform = box_transform

    def __call__(self, image: np.ndarray) -> Detections:
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 \
            else image
        ratio = min(1.0, self.max_side / max(grey.shape))
        if ratio < 1.0:
            grey = cv2.resize(grey, None, fx=ratio, fy=ratio,
                              interpolation=cv2.INTER_AREA)
        min_size = max(1, int(round(self.min_face * ratio)))
        empty = np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
        if min(grey.shape) < min_size:
            return empty
        grey = cv2.equalizeHist(grey)
        rects, _, weights = self.classifier.detectMultiScale3(
            grey, scaleFactor=self.scale_factor,
            minNeighbors=self.min_neighbors, minSize=(min_size, min_size),
            outputRejectLevels=True)
        if len(rects) == 0:
            return empty
        rects = np.asarray(rects, dtype=np.float32).reshape(-1, 4) / ratio
        boxes = np.concatenate([rects[:, :2], rects[:, :2] + rects[:, 2:]], 1)
        # levelWeights: the cascade's last-stage confidence (unbounded)
        scores = np.asarray(weights, dtype=np.float32).reshape(-1)
        return weighted_nms(boxes, scores, self.iou_thr)


#: uint8 -> [-1, 1], BlazeFace's input range (x / 127.5 - 1 in float32)
_UNIT_RANGE = (np.arange(256, dtype=np.float32) / 127.5 - 1.0).reshape(1, 256, 1)


#: MediaPipe's BlazeFace graphs (face_detection_short_range.pbtxt and
#: face_detection_full_range.pbtxt): input side, SSD anchor strides, anchors
#: per cell of each stride, and the default score threshold.
BLAZEFACE = {
    'short': dict(size=128, strides=(8, 16, 16, 16), per_layer=2, score_thr=0.5),
    'full': dict(size=192, strides=(4, ), per_layer=1, score_thr=0.6),
}


def blazeface_anchors(size: int, strides: Tuple[int, ...],
                      per_layer: int) -> np.ndarray:
    """(A, 2) anchor centres in [0, 1] (MediaPipe's ``SsdAnchorsCalculator``
    with fixed anchor size: layers of one stride share their cells)."""
    centres = []
    i = 0
    while i < len(strides):
        j = i
        while j < len(strides) and strides[j] == strides[i]:
            j += 1
        fm = int(np.ceil(size / strides[i]))
        ys, xs = np.mgrid[0:fm, 0:fm]
        grid = np.stack([(xs + 0.5) / fm, (ys + 0.5) / fm], -1).reshape(-1, 2)
        centres.append(np.repeat(grid, per_layer * (j - i), axis=0))
        i = j
    return np.concatenate(centres).astype(np.float32)


#: BlazeFace box -> face box, by variant: medians over the sample data's
#: training faces (dlib-labelled) with :func:`fit_box_transform`
#: (``tools/analysis/detectors.py``; docs/embedded.md, detectors).
BLAZEFACE_TO_TSV = {
    'short': BoxTransform(scale=0.709, shift_x=0.031, shift_y=-0.079),
    'full': BoxTransform(scale=0.666, shift_x=-0.009, shift_y=-0.055),
}


class BlazeFaceDetector(FaceDetector):
    """MediaPipe's BlazeFace (Apache-2.0), run by LiteRT when it is
    installed, else by OpenCV's DNN module (which reads ``.tflite``).

    Args:
        model (str): ``face_detection_short_range.tflite`` (selfie range,
            128 px input) or ``face_detection_full_range*.tflite`` (192 px).
        variant (str): ``'short'`` or ``'full'``; by the file name when
            None.
        score_thr (float, optional): the graph's threshold by default.
        iou_thr (float): weighted-NMS overlap (MediaPipe's 0.3).
        box_transform (BoxTransform, optional): BlazeFace box -> face box;
            the variant's measured ``BLAZEFACE_TO_TSV`` by default.
        num_threads (int): runtime threads.
    """

    name = 'blazeface'

    def __init__(self, model: str, variant: Optional[str] = None,
                 score_thr: Optional[float] = None, iou_thr: float = 0.3,
                 box_transform: Optional[BoxTransform] = None,
                 num_threads: int = 1) -> None:
        if not osp.isfile(model) or osp.getsize(model) == 0:
            raise BundleError(f'{model}: BlazeFace model missing or empty')
        variant = variant or ('full' if 'full' in osp.basename(model) else 'short')
        if variant not in BLAZEFACE:
            raise ValueError(f'variant must be one of {sorted(BLAZEFACE)}')
        cfg = BLAZEFACE[variant]
        self.size = cfg['size']
        self.anchors = blazeface_anchors(cfg['size'], cfg['strides'],
                                         cfg['per_layer'])
        self.score_thr = cfg['score_thr'] if score_thr is None else score_thr
        self.iou_thr = iou_thr
        self.box_transform = box_transform or BLAZEFACE_TO_TSV[variant]
        self.variant = variant
        self._run = self._open(model, num_threads)

    def _open(self, model: str, num_threads: int):
        try:
            litert = import_runtime('tflite', model)
        except BundleError:
            litert = None
        if litert is not None:
            interp = litert.Interpreter(model_path=model, num_threads=num_threads)
            interp.allocate_tensors()
            inp = interp.get_input_details()[0]['index']
            outs = [d['index'] for d in interp.get_output_details()]

            def run(x: np.ndarray) -> List[np.ndarray]:
                interp.set_tensor(inp, x)
                interp.invoke()
                return [interp.get_tensor(i) for i in outs]
            self.runtime = 'tflite'
            return run
        net = cv2.dnn.readNetFromTFLite(model)
        cv2.setNumThreads(num_threads)

        def run_cv(x: np.ndarray) -> List[np.ndarray]:
            net.setInput(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
            return list(net.forward(net.getUnconnectedOutLayersNames()))
        self.runtime = 'opencv'
        return run_cv

    def __call__(self, image: np.ndarray) -> Detections:
        h, w = image.shape[:2]
        s = self.size / max(h, w)
        # letterbox (keep the aspect ratio, pad around with black) in one
        # bilinear warp, as MediaPipe's ImageToTensorCalculator does on the
        # CPU; the matrix maps pixel centres as cv2.resize does
        ox, oy = (self.size - w * s) / 2, (self.size - h * s) / 2
        warp = np.array([[s, 0, ox + 0.5 * s - 0.5], [0, s, oy + 0.5 * s - 0.5]],
                        np.float32)
        canvas = cv2.warpAffine(image, warp, (self.size, self.size),
                                flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT, borderValue=0)
        x = cv2.LUT(cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB), _UNIT_RANGE)[None]
        outs = [np.asarray(o).reshape(-1, o.shape[-1]) for o in self._run(x)]
        reg = next(o for o in outs if o.shape[-1] == 16)
        logits = next(o for o in outs if o.shape[-1] == 1)[:, 0]
        scores = 0.5 * (1 + np.tanh(0.5 * np.clip(logits, -100, 100)))  # sigmoid
        keep = scores >= self.score_thr
        if not keep.any():
            return np.zeros((0, 4), np.float32), np.zeros(0, np.float32)
        reg, scores, anchors = reg[keep], scores[keep], self.anchors[keep]
        cxy = reg[:, :2] / self.size + anchors
        wh = reg[:, 2:4] / self.size
        boxes = np.concatenate([cxy - wh / 2, cxy + wh / 2], 1) * self.size
        boxes -= np.array([ox, oy, ox, oy], np.float32)
        boxes /= s
        boxes, scores = weighted_nms(boxes.astype(np.float32),
                                     scores.astype(np.float32), self.iou_thr)
        boxes[:, 0::2] = np.clip(boxes[:, 0::2], 0, w)
        boxes[:, 1::2] = np.clip(boxes[:, 1::2], 0, h)
        ok = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        return boxes[ok], scores[ok]


class ShortThenFull(FaceDetector):
    """BlazeFace for still images: short range first (a third of the full
    range's time), and the full range too where the short range finds no
    face or a face smaller than ``min_side`` x the image's shorter side;
    then the two sets of face boxes are merged.

    The short range is made for faces near the camera (MediaPipe: within
    2 m), so a small face is the sign of a photo with faces further away,
    which the full range finds more of. On the sample data's 27 photos the
    short range's faces were at most 0.239 of the shorter side in group
    photos and at least 0.316 in portraits (docs/embedded.md, detectors).
    Its boxes are face boxes already (its ``box_transform`` is the
    identity).
    """

    name = 'blazeface'
    variant = 'auto'

    def __init__(self, short: BlazeFaceDetector, full: BlazeFaceDetector,
                 min_side: float = 0.25, iou_thr: float = 0.3) -> None:
        self.short, self.full = short, full
        self.min_side, self.iou_thr = min_side, iou_thr
        self.runtime = getattr(short, 'runtime', None)

    def __call__(self, image: np.ndarray) -> Detections:
        boxes, scores = self.short(image)
        faces = self.short.face_boxes(boxes)
        sides = boxes[:, 2:] - boxes[:, :2]
        if len(boxes) and sides.min() >= self.min_side * min(image.shape[:2]):
            return faces, scores
        more, more_scores = self.full(image)
        return weighted_nms(np.concatenate([faces, self.full.face_boxes(more)]),
                            np.concatenate([scores, more_scores]), self.iou_thr)


#: The bundle's detector choices (``run_model.py --detector``).
VARIANTS = ('auto', 'full', 'short', 'haar')


def open_detector(spec: Optional[Dict], bundle_dir: str = '',
                  num_threads: int = 1, log=None,
                  variant: Optional[str] = None) -> FaceDetector:
    """The bundle's detector: BlazeFace (``variant``: ``'short'``,
    ``'full'``, or ``'auto'`` for :class:`ShortThenFull`; by default the
    spec's) when its spec entry and files are there, else the Haar cascade
    (``log`` says why); ``variant='haar'`` asks for the Haar cascade."""
    if variant is not None and variant not in VARIANTS:
        raise ValueError(f'detector must be one of {VARIANTS}, got {variant!r}')
    det = (spec or {}).get('detector')
    if variant != 'haar' and det and det.get('type') == 'blazeface':
        variant = variant or det['variant']
        if variant == 'auto':
            parts = [open_detector(spec, bundle_dir, num_threads, log, v)
                     for v in ('short', 'full')]
            if all(isinstance(d, BlazeFaceDetector) for d in parts):
                return ShortThenFull(*parts)
            return parts[0] if isinstance(parts[0], BlazeFaceDetector) else parts[1]
        path = osp.join(bundle_dir, det['files'].get(variant, ''))
        if osp.isfile(path):
            transform = det.get('box_transforms', {}).get(variant)
            return BlazeFaceDetector(
                path, variant, None, det.get('iou_thr', 0.3),
                BoxTransform(*transform) if transform else None, num_threads)
        if log:
            log(f'{path}: BlazeFace ({variant}) not in the bundle, using the '
                'Haar cascade')
    return HaarFaceDetector()
