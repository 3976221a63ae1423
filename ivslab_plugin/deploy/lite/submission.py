"""The challenge's output: one ``.pts``-format ``.txt`` per image.

As the final round's ``run_model.py <image_list.txt> <output_dir>``: each
file is named after the image id (``image_0001.png`` -> ``image_0001.txt``)
and holds one ``.pts`` block per face, right-most face first.
"""
from __future__ import annotations

import os
import os.path as osp
import sys
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Set

import numpy as np

from .detect import box_iou
from .face import Face, read_image, rightmost_first


def image_id(path: str) -> str:
    """``.../image_0001.png`` -> ``image_0001``."""
    return osp.splitext(osp.basename(path))[0]


def format_pts(keypoints: np.ndarray) -> str:
    """A ``.pts`` block for one face (K, 2)."""
    rows = '\n'.join(f'{x:.3f} {y:.3f}' for x, y in keypoints)
    return f'version: 1\nn_points: {len(keypoints)}\n{{\n{rows}\n}}\n'


def format_submission(faces: Sequence[np.ndarray]) -> str:
    """One image's file: a ``.pts`` block per face (K, 2), in the order
    given."""
    return ''.join(format_pts(np.asarray(k, dtype=np.float32)) for k in faces)


def fallback_box(height: int, width: int, padding: float) -> np.ndarray:
    """A face box whose padded crop is the image's central square: used
    when no face is found, since the challenge wants a file per image."""
    side = min(height, width) / padding
    cx, cy = width / 2, height / 2
    return np.array([[cx - side / 2, cy - side / 2, cx + side / 2,
                      cy + side / 2]], dtype=np.float32)


def read_image_list(path: str) -> List[str]:
    """Image paths, one per line; relative paths are tried as given, then
    relative to the list file's folder. Missing images are kept (each is
    reported when it is processed).

    Raises:
        FileNotFoundError / ValueError: no list, an empty list, or two
            images with the same id (their outputs would collide).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: image list not found')
    base = osp.dirname(osp.abspath(path))
    images = []
    with open(path, encoding='utf-8') as f:
        for line in f:
            name = line.strip()
            if name:
                images.append(name if osp.isfile(name) or osp.isabs(name)
                              else osp.join(base, name))
    if not images:
        raise ValueError(f'{path}: the image list is empty')
    ids = [image_id(p) for p in images]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ValueError(f'{path}: several images share the id(s) {dupes}; '
                         'their output files would overwrite each other')
    return images


def read_submission(path: str) -> List[np.ndarray]:
    """Parse a submission file back into its (K, 2) blocks."""
    with open(path, encoding='utf-8') as f:
        lines = [line.strip() for line in f if line.strip()]
    faces, i = [], 0
    while i < len(lines):
        if not lines[i].startswith('version:') or i + 2 >= len(lines) or \
                not lines[i + 1].startswith('n_points:') or \
                lines[i + 2] != '{':
            raise ValueError(f'{path}: expected a .pts header at line {i + 1}')
        n = int(lines[i + 1].split(':', 1)[1])
        body = lines[i + 3:i + 3 + n]
        if len(body) != n or i + 3 + n >= len(lines) or lines[i + 3 + n] != '}':
            raise ValueError(f'{path}: block at line {i + 1} does not hold '
                             f'{n} points and a closing brace')
        faces.append(np.array([[float(v) for v in b.split()] for b in body],
                              dtype=np.float32))
        i += 4 + n
    return faces


@dataclass
class FaceBoxes:
    """Given face boxes: (N, 4) annotation-style boxes per image id, and the
    ids of images that hold more faces than their boxes (the challenge's
    ``test_q.txt``), whose other faces the detector adds."""

    boxes: Dict[str, np.ndarray]
    multi_face: Set[str] = field(default_factory=set)


#: ``scale`` columns are in units of 200 px (the annotation files' rule).
BOX_UNIT = 200.0


def read_box_tsv(path: str) -> FaceBoxes:
    """Face boxes per image id from an annotation TSV's ``scale``,
    ``center_w`` and ``center_h`` columns, as written (``train.tsv`` /
    ``test.tsv``, whose columns are the training boxes): the device's way
    to take given boxes. The challenge's ``test_q.tsv`` holds 68-point
    boxes in those columns; ``tools/run_model.py --tsv`` converts them.

    Raises:
        FileNotFoundError / ValueError: naming the file and line.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: box TSV not found')
    boxes: Dict[str, List[np.ndarray]] = {}
    with open(path, encoding='utf-8') as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            cols = line.rstrip('\n').split('\t')
            if len(cols) != 6:
                raise ValueError(f'{path}:{line_no}: expected 6 tab-separated '
                                 f'columns, got {len(cols)}')
            try:
                scale, cx, cy = (float(v) for v in cols[3:])
            except ValueError as err:
                raise ValueError(f'{path}:{line_no}: scale and centre must be '
                                 f'numbers ({err})') from err
            if not scale > 0:
                raise ValueError(f'{path}:{line_no}: scale must be positive, got {scale}')
            half = scale * BOX_UNIT / 2
            boxes.setdefault(image_id(cols[0]), []).append(
                np.array([cx - half, cy - half, cx + half, cy + half], np.float32))
    if not boxes:
        raise ValueError(f'{path}: no rows')
    return FaceBoxes({k: np.stack(v) for k, v in boxes.items()})


@dataclass
class SubmissionSummary:
    """What :func:`write_submission` did."""

    files: Dict[str, str] = field(default_factory=dict)
    faces: Dict[str, int] = field(default_factory=dict)
    no_face: List[str] = field(default_factory=list)
    failed: Dict[str, str] = field(default_factory=dict)

    def report(self, out_dir: str, num_images: int, seconds: float) -> int:
        """Print what was written (the fallbacks and failures to stderr);
        the exit code: 1 when an image failed."""
        print(f'wrote {len(self.files)} files ({sum(self.faces.values())} faces) to '
              f'{out_dir} in {seconds:.1f} s ({1000 * seconds / max(num_images, 1):.1f} '
              'ms/image)')
        for path in self.no_face:
            print(f'no face found in {path}: wrote the central-square fallback',
                  file=sys.stderr)
        if self.failed:
            print(f'{len(self.failed)} of {num_images} images failed', file=sys.stderr)
            return 1
        return 0


def add_detected_faces(landmarker, image: np.ndarray, face_boxes: np.ndarray,
                       iou_thr: float = 0.3) -> np.ndarray:
    """The given face boxes plus the detector's faces that overlap none of
    them (IoU <= ``iou_thr``)."""
    boxes, _ = landmarker.detector(image)
    found = landmarker.detector.face_boxes(boxes)
    if len(found) and len(face_boxes):
        found = found[box_iou(found, face_boxes).max(1) <= iou_thr]
    return np.concatenate([face_boxes, found]).astype(np.float32)


def write_submission(landmarker, images: Sequence[str], out_dir: str,
                     given: Optional[FaceBoxes] = None,
                     log: Callable[[str], None] = print) -> SubmissionSummary:
    """Predict every image and write its ``<image id>.txt``.

    Args:
        landmarker (Landmarker): detector + landmark model.
        images (Sequence[str]): image paths.
        out_dir (str): created if missing.
        given (FaceBoxes, optional): face boxes per image id; the detector
            then runs only on the images listed as holding more faces, and
            an image without a box is an error.
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
            image = read_image(path)
            if given is not None and key not in given.boxes:
                raise KeyError(f'{path}: no face box for image id {key!r} in the TSV')
        except (FileNotFoundError, ValueError, KeyError) as err:
            summary.failed[path] = str(err).strip('"\'')
            log(f'error: {summary.failed[path]}')
            continue
        boxes = None if given is None else given.boxes[key]
        if boxes is not None and key in given.multi_face:
            boxes = add_detected_faces(landmarker, image, boxes)
        faces: List[Face] = landmarker(image, boxes)
        if not faces:
            summary.no_face.append(path)
            faces = landmarker(image, fallback_box(*image.shape[:2],
                                                   landmarker.padding))
        out = osp.join(out_dir, key + '.txt')
        with open(out, 'w', encoding='utf-8') as f:
            f.write(format_submission([face.keypoints for face in rightmost_first(faces)]))
        summary.files[path] = out
        summary.faces[path] = len(faces)
    return summary
