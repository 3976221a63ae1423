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
           'fallback_box', 'boxes_from_tsv', 'write_submission',
           'SubmissionSummary']


@dataclass
class SubmissionSummary:
    """What :func:`write_submission` did."""

    files: Dict[str, str] = field(default_factory=dict)
    faces: Dict[str, int] = field(default_factory=dict)
    no_face: List[str] = field(default_factory=list)
    failed: Dict[str, str] = field(default_factory=dict)


def boxes_from_tsv(tsv: str, image_root: Optional[str] = None,
                   num_keypoints: int = 51) -> Dict[str, np.ndarray]:
    """Image id -> (N, 4) TSV face boxes (``test_q.tsv``: landmark columns
    are dummies, only ``scale``/``center`` are used)."""
    boxes: Dict[str, list] = {}
    for rec in read_landmark_tsv(tsv, num_keypoints, image_root,
                                 labelled=False, check_images=False):
        boxes.setdefault(image_id(rec.image_path), []).append(rec.bbox)
    return {k: np.stack(v) for k, v in boxes.items()}


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
            :func:`boxes_from_tsv`); the detector is then not used, and an
            image without a box is an error.
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
        faces: List[FaceLandmarks] = pipeline(
            image, None if tsv_boxes is None else tsv_boxes[key])
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
