"""The challenge submission: one ``.pts``-format ``.txt`` per test image.

As the final round's ``run_model.py <image_list.txt> <output_dir>``: each
file is named after the image id (``image_0001.png`` -> ``image_0001.txt``)
and holds one 51-point ``.pts`` block per face, right-most face first.
"""
from __future__ import annotations

import os
import os.path as osp
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

import numpy as np

from ivslab_plugin.datasets.tsv import format_pts, image_id, read_landmark_tsv

from .pipeline import FaceLandmarkPipeline, FaceLandmarks, rightmost_first


def read_image_list(path: str) -> List[str]:
    """Image paths, one per line; relative paths are tried as given, then
    relative to the list file's folder.

    Raises:
        FileNotFoundError: naming the list file, the line and the image.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'image list not found: {path}')
    images = []
    base = osp.dirname(osp.abspath(path))
    with open(path, encoding='utf-8') as f:
        for line_no, line in enumerate(f, start=1):
            name = line.strip()
            if not name:
                continue
            found = name if osp.isfile(name) else osp.join(base, name)
            if not osp.isfile(found):
                raise FileNotFoundError(
                    f'{path}:{line_no}: image not found: {name!r} (also '
                    f'looked in {base})')
            images.append(found)
    if not images:
        raise ValueError(f'{path}: the image list is empty')
    ids = [image_id(p) for p in images]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ValueError(f'{path}: several images share the id(s) {dupes}; '
                         'their output files would overwrite each other')
    return images


def format_submission(faces: Sequence[np.ndarray]) -> str:
    """The file content for one image: a ``.pts`` block per face (K, 2), in
    the order given."""
    return ''.join(format_pts(np.asarray(k, dtype=np.float32)) for k in faces)


def fallback_box(height: int, width: int, padding: float = 1.25) -> np.ndarray:
    """A TSV-style box whose padded crop is the image's central square: used
    when no face is found, since the challenge wants a file for every
    image."""
    side = min(height, width) / padding
    cx, cy = width / 2, height / 2
    return np.array([[cx - side / 2, cy - side / 2, cx + side / 2,
                      cy + side / 2]], dtype=np.float32)


@dataclass
class SubmissionSummary:
    """What :func:`write_submission` did."""

    files: Dict[str, str] = field(default_factory=dict)
    faces: Dict[str, int] = field(default_factory=dict)
    no_face: List[str] = field(default_factory=list)


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
                     padding: float = 1.25) -> SubmissionSummary:
    """Predict every image and write its ``<image id>.txt``.

    Args:
        pipeline (FaceLandmarkPipeline): detector + landmark backend.
        images (Sequence[str]): image paths.
        out_dir (str): created if missing.
        tsv_boxes (dict, optional): face boxes per image id (from
            :func:`boxes_from_tsv`); the detector is then not used, and an
            image without a box is an error.
        padding (float): the model's box padding, for the no-face fallback.

    Returns:
        SubmissionSummary: files written, faces per image, images where no
        face was found (they get the central-square fallback).
    """
    from .pipeline import load_image
    os.makedirs(out_dir, exist_ok=True)
    summary = SubmissionSummary()
    for path in images:
        key = image_id(path)
        image = load_image(path)
        if tsv_boxes is not None:
            if key not in tsv_boxes:
                raise KeyError(f'no face box for image id {key!r} in the TSV')
            faces: List[FaceLandmarks] = pipeline(image, tsv_boxes[key])
        else:
            faces = pipeline(image)
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


def read_submission(path: str) -> List[np.ndarray]:
    """Parse a submission file back into its (K, 2) blocks (for checks)."""
    with open(path, encoding='utf-8') as f:
        lines = [line.strip() for line in f if line.strip()]
    faces, i = [], 0
    while i < len(lines):
        if not lines[i].startswith('version:') or \
                not lines[i + 1].startswith('n_points:') or \
                lines[i + 2] != '{':
            raise ValueError(f'{path}: expected a .pts header at line {i + 1}')
        n = int(lines[i + 1].split(':', 1)[1])
        body = lines[i + 3:i + 3 + n]
        if len(body) != n or lines[i + 3 + n] != '}':
            raise ValueError(f'{path}: block at line {i + 1} does not hold '
                             f'{n} points and a closing brace')
        faces.append(np.array([[float(v) for v in b.split()] for b in body],
                              dtype=np.float32))
        i += 4 + n
    return faces
