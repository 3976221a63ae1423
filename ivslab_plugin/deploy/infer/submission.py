"""The challenge submission with any backend: one ``.pts``-format ``.txt``
per test image, right-most face first.

The file format, the image list and the no-face fallback are the device
code's (:mod:`ivslab_plugin.deploy.lite.submission`), so ``tools/run_model.py``
and an exported bundle's ``run_model.py`` write the same files.
"""
from __future__ import annotations

import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from ivslab_plugin.datasets.tsv import read_landmark_tsv

from ..lite.submission import (
    fallback_box,
    format_submission,
    image_id,
    read_image_list,
    read_submission,
)
from .pipeline import FaceLandmarkPipeline, FaceLandmarks, load_image, rightmost_first

__all__ = ['read_image_list', 'read_submission', 'format_submission',
           'fallback_box', 'boxes_from_tsv', 'add_detected_faces',
           'write_submission', 'SubmissionSummary']


@dataclass
class SubmissionSummary:
    """What :func:`write_submission` did."""

    files: Dict[str, str] = field(default_factory=dict)
    faces: Dict[str, int] = field(default_factory=dict)
    no_face: List[str] = field(default_factory=list)
    failed: Dict[str, str] = field(default_factory=dict)


def boxes_from_tsv(tsv: str, image_root: Optional[str] = None,
                   num_keypoints: int = 51,
                   multi_face: Optional[str] = None) -> Dict[str, np.ndarray]:
    """Image id -> (N, 4) TSV face boxes (``test_q.tsv``: the boxes come from
    the dummy points by the training rule, see ``read_landmark_tsv``).

    With ``multi_face`` (``test_q.txt``), the ids of images that hold more
    faces than their rows are also returned, as ``boxes['__multi__']``
    (see :func:`write_submission`).
    """
    from ivslab_plugin.datasets.tsv import multi_face_images
    boxes: Dict[str, list] = {}
    records = read_landmark_tsv(tsv, num_keypoints, image_root, labelled=False,
                                check_images=False)
    for rec in records:
        boxes.setdefault(image_id(rec.image_path), []).append(rec.bbox)
    out = {k: np.stack(v) for k, v in boxes.items()}
    if multi_face:
        out['__multi__'] = np.array(sorted(multi_face_images(multi_face, records)))
    return out


def add_detected_faces(pipeline: FaceLandmarkPipeline, image: np.ndarray,
                       face_boxes: np.ndarray, iou_thr: float = 0.3) -> np.ndarray:
    """The given face boxes plus the detector's faces that overlap none of
    them (IoU <= ``iou_thr``): for images listed as holding more faces than
    the annotation file gives boxes for."""
    from ..lite.detect import box_iou
    boxes, _ = pipeline.detector(image)
    found = pipeline.detector.face_boxes(boxes)
    if len(found) and len(face_boxes):
        found = found[box_iou(found, face_boxes).max(1) <= iou_thr]
    return np.concatenate([face_boxes, found]).astype(np.float32)


def write_submission(pipeline: FaceLandmarkPipeline,
                     images: Sequence[str],
                     out_dir: str,
                     tsv_boxes: Optional[Dict[str, np.ndarray]] = None,
                     padding: float = 1.25,
                     log: Callable[[str], None] = print) -> SubmissionSummary:
    """Predict every image and write its ``<image id>.txt``.

    Args:
        pipeline (FaceLandmarkPipeline): detector + landmark backend.
        images (Sequence[str]): image paths.
        out_dir (str): created if missing.
        tsv_boxes (dict, optional): face boxes per image id (from
            :func:`boxes_from_tsv`); the detector is then used only for the
            images listed under ``'__multi__'`` (more faces than boxes: the
            detected faces that overlap no given box are added), and an image
            without a box is an error.
        padding (float): the model's box padding, for the no-face fallback.
        log: where a failed image is reported (the others go on).

    Returns:
        SubmissionSummary: files written, faces per image, images where no
        face was found (they get the central-square fallback), and images
        that failed with their reason.
    """
    os.makedirs(out_dir, exist_ok=True)
    summary = SubmissionSummary()
    for path in images:
        key = image_id(path)
        try:
            image = load_image(path)
            if tsv_boxes is not None and key not in tsv_boxes:
                raise KeyError(f'{path}: no face box for image id {key!r} in '
                               'the TSV')
        except (FileNotFoundError, ValueError, KeyError) as err:
            summary.failed[path] = str(err).strip('"\'')
            log(f'error: {summary.failed[path]}')
            continue
        given = None if tsv_boxes is None else tsv_boxes[key]
        if given is not None and key in set(tsv_boxes.get('__multi__', ())):
            given = add_detected_faces(pipeline, image, given)
        faces: List[FaceLandmarks] = pipeline(image, given)
        if not faces:
            summary.no_face.append(path)
            faces = pipeline(image, fallback_box(*image.shape[:2], padding))
        out = osp.join(out_dir, key + '.txt')
        with open(out, 'w', encoding='utf-8') as f:
            f.write(format_submission(
                [face.keypoints for face in rightmost_first(faces)]))
        summary.files[path] = out
        summary.faces[path] = len(faces)
    return summary
