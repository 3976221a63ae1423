"""Face detectors against labelled faces: how many they find, how many
other boxes they return, how long they take, and the box transform that
maps their boxes to the annotation files' face box
(``tools/analysis/detectors.py``)."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import numpy as np

from ivslab_plugin.datasets.tsv import LandmarkRecord
from ivslab_plugin.deploy.lite.detect import BoxTransform, FaceDetector, box_iou, fit_box_transform
from ivslab_plugin.deploy.lite.face import read_image


@dataclass
class DetectorReport:
    name: str
    images: int
    faces: int
    found: int
    other_boxes: int
    ms_per_image: float
    transform: Optional[BoxTransform] = None

    def row(self) -> str:
        t = self.transform
        fit = f'{t.scale:.3f}, {t.shift_x:+.3f}, {t.shift_y:+.3f}' if t else ''
        return (f'| {self.name} | {self.images} | {self.faces} | {self.found} | '
                f'{self.other_boxes} | {self.ms_per_image:.1f} | {fit} |')


HEADER = ('| detector | images | labelled faces | found | other boxes | '
          'ms / image | fitted transform (scale, shift x, shift y) |\n'
          '|---|---|---|---|---|---|---|')


def group_by_image(records: Sequence[LandmarkRecord]) -> Dict[str, np.ndarray]:
    """Image path -> (N, 4) labelled face boxes."""
    out: Dict[str, List[np.ndarray]] = {}
    for rec in records:
        out.setdefault(rec.image_path, []).append(rec.bbox)
    return {k: np.stack(v) for k, v in out.items()}


def fit_transform(detector: FaceDetector, faces: Dict[str, np.ndarray]) -> BoxTransform:
    """Fit the detector's box transform on labelled faces: each labelled
    face is paired with the detection that contains its centre."""
    detected, reference = [], []
    for path, boxes in faces.items():
        det = detector(read_image(path))[0]
        for box in boxes:
            c = (box[:2] + box[2:]) / 2
            inside = [d for d in det if d[0] <= c[0] <= d[2] and d[1] <= c[1] <= d[3]]
            if len(inside) == 1:
                detected.append(inside[0])
                reference.append(box)
    if not detected:
        raise ValueError('no labelled face was detected: nothing to fit')
    return fit_box_transform(np.stack(detected), np.stack(reference))


def evaluate_detector(name: str, detector: FaceDetector,
                      faces: Dict[str, np.ndarray],
                      iou_thr: float = 0.5) -> DetectorReport:
    """Faces found (a detection whose face box overlaps the labelled box by
    more than ``iou_thr``, one detection per face) and other boxes."""
    found = other = 0
    elapsed = 0.0
    for path, boxes in faces.items():
        image = read_image(path)
        start = time.perf_counter()
        det = detector(image)[0]
        elapsed += time.perf_counter() - start
        mapped = detector.face_boxes(det)
        if len(mapped):
            iou = box_iou(boxes, mapped)
            matched = set()
            for i in range(len(boxes)):
                j = int(iou[i].argmax())
                if iou[i, j] > iou_thr and j not in matched:
                    matched.add(j)
            found += len(matched)
            other += len(mapped) - len(matched)
    return DetectorReport(name, len(faces), sum(len(b) for b in faces.values()),
                          found, other, 1000 * elapsed / max(len(faces), 1),
                          detector.box_transform)
