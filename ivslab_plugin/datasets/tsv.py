"""Readers and writers for the ivslab / STAR-style landmark files.

A TSV row is ``image_path, landmarks_a, landmarks_b, scale, center_w,
center_h`` (no header). ``landmarks_b`` holds the full landmark set (in the
ivslab files both landmark columns hold the 51 points; in STAR-style 300W /
WFLW / COFW files ``landmarks_a`` holds 5 points). The face box is the square
of side ``scale * 200`` centred on ``(center_w, center_h)``.

Every row read becomes a record or raises :class:`AnnotationError` naming the
file, the line and the problem: nothing is dropped silently.
"""
from __future__ import annotations

import math
import os
import os.path as osp
import warnings
from dataclasses import dataclass
from typing import Iterable, List, Optional, Sequence, Tuple

import numpy as np

#: 68-point iBUG markup -> 51 points: drop the 17 jaw-line points.
JAW_POINTS_68 = 17
NUM_COLUMNS = 6
BOX_UNIT = 200.0  # ``scale`` is in units of 200 px, as in the seed.
SCALE_MARGIN = 1.05
#: A box made by the rule over 68 points (jaw included) -> the 51-point box:
#: (scale ratio, centre shift in y as a share of the 68-point box side).
#: Measured on the organisers' ``test_q.tsv``, on its 1012 rows whose dummy
#: points reproduce their box (medians 0.751 and -0.101; spread 0.054 and
#: 0.021); the x shift follows the head's yaw (+-0.12) and is left at 0.
BOX68_TO_BOX51 = (0.75, -0.10)


class AnnotationError(ValueError):
    """A problem in an annotation file, located by file and line."""

    def __init__(self, path: str, line_no: Optional[int], problem: str):
        self.path = path
        self.line_no = line_no
        self.problem = problem
        where = path if line_no is None else f'{path}:{line_no}'
        super().__init__(f'{where}: {problem}')


@dataclass
class LandmarkRecord:
    """One face of an annotation file.

    Note:
        ``keypoints`` has shape (K, 2) in image pixels; ``center`` has shape
        (2,). ``bbox`` is the (4,) xyxy face box derived from scale/center.
    """

    line_no: int
    image_path: str
    keypoints: np.ndarray
    scale: float
    center: np.ndarray
    #: where the box came from: ``'columns'`` (scale/center as written),
    #: ``'landmarks51'`` (the rule over points 17-67 of 68 dummy points),
    #: ``'columns68'`` (columns in the 68-point convention, converted with
    #: :data:`BOX68_TO_BOX51`).
    box_source: str = 'columns'

    @property
    def bbox(self) -> np.ndarray:
        half = self.scale * BOX_UNIT / 2
        cx, cy = self.center
        return np.array([cx - half, cy - half, cx + half, cy + half],
                        dtype=np.float32)


def box_from_landmarks(keypoints: np.ndarray) -> Tuple[float, np.ndarray]:
    """Scale and center of a face as the seed computed them.

    ``scale = min(box width, box height) / 200 * 1.05`` over the landmarks'
    bounding box; the center is that box's centre.

    Args:
        keypoints (np.ndarray): (K, 2) landmarks in pixels.

    Returns:
        tuple: ``(scale, center)`` with center of shape (2,).
    """
    x0, y0 = keypoints.min(axis=0)
    x1, y1 = keypoints.max(axis=0)
    scale = min(x1 - x0, y1 - y0) / BOX_UNIT * SCALE_MARGIN
    center = np.array([(x0 + x1) / 2, (y0 + y1) / 2], dtype=np.float32)
    return float(scale), center


def follows_box_rule(keypoints: np.ndarray, scale: float,
                     center: np.ndarray, rtol: float = 1e-4,
                     atol: float = 1e-3) -> bool:
    """Whether ``scale``/``center`` are :func:`box_from_landmarks` of the
    points (up to the rounding of the written numbers)."""
    rule_scale, rule_center = box_from_landmarks(keypoints)
    return bool(
        abs(rule_scale - scale) <= atol / BOX_UNIT + rtol * abs(scale)
        and np.allclose(rule_center, center, rtol=rtol, atol=atol))


def unlabelled_box(points: np.ndarray, scale: float, center: np.ndarray,
                   num_keypoints: int) -> Tuple[float, np.ndarray, str]:
    """The face box of a row whose landmark columns are dummies.

    ``test_q.tsv`` rows hold 68 points from a detector, and their box
    columns follow the box rule over all 68 points, jaw included: about
    1.33 times the 51-point box that training crops use, and lower. So:

    - 68 points that reproduce the box columns: the rule over points 17-67
      (the 51-point markup), the box training sees;
    - 68 spread points that do not reproduce the columns (in the
      organisers' file, 236 rows repeat the previous row's points): the
      points are not this face's; the columns are taken as 68-point boxes
      and converted with :data:`BOX68_TO_BOX51`;
    - anything else (51 points, zeros, points all in one place): the
      columns as written.

    Args:
        points (np.ndarray): (N, 2) dummy points of the row.
        scale (float): the row's ``scale`` column.
        center (np.ndarray): (2,) the row's ``center_w, center_h``.
        num_keypoints (int): points of the dataset's markup.

    Returns:
        tuple: ``(scale, center, box_source)``, see :class:`LandmarkRecord`.
    """
    if num_keypoints != 68 - JAW_POINTS_68 or len(points) != 68:
        return scale, center, 'columns'
    if min(np.ptp(points, axis=0)) <= 0:
        return scale, center, 'columns'
    if follows_box_rule(points, scale, center):
        new_scale, new_center = box_from_landmarks(points[JAW_POINTS_68:])
        return new_scale, new_center, 'landmarks51'
    ratio, shift_y = BOX68_TO_BOX51
    new_center = np.array(
        [center[0], center[1] + shift_y * scale * BOX_UNIT], dtype=np.float32)
    return scale * ratio, new_center, 'columns68'


def resolve_image_path(image_path: str, image_root: Optional[str]) -> str:
    """Find an image named in an annotation file.

    The path is used as given if it exists, else under ``image_root``, else
    by its trailing components under ``image_root`` (longest first), so files
    written with absolute paths on another machine still resolve.

    Returns:
        str: an existing path, or ``''`` when none is found.
    """
    if osp.isfile(image_path):
        return image_path
    if not image_root:
        return ''
    parts = [p for p in image_path.replace('\\', '/').split('/') if p]
    for start in range(len(parts)):
        candidate = osp.join(image_root, *parts[start:])
        if osp.isfile(candidate):
            return candidate
    return ''


def _parse_floats(path: str, line_no: int, text: str, what: str) -> np.ndarray:
    values = []
    for token in text.split(','):
        try:
            value = float(token)
        except ValueError:
            raise AnnotationError(
                path, line_no,
                f'non-numeric value {token.strip()!r} in {what}') from None
        if not math.isfinite(value):
            raise AnnotationError(path, line_no,
                                  f'non-finite value {token.strip()!r} in '
                                  f'{what}')
        values.append(value)
    return np.asarray(values, dtype=np.float32)


def _check_image(path: str, line_no: int, image_path: str,
                 image_root: Optional[str]) -> str:
    resolved = resolve_image_path(image_path, image_root)
    if not resolved:
        raise AnnotationError(
            path, line_no, f'image file not found: {image_path!r} '
            f'(also looked under image root {image_root!r})')
    from PIL import Image, UnidentifiedImageError
    try:
        # Reads the header only: cheap enough for every row at start-up.
        with Image.open(resolved) as img:
            img.size
    except (OSError, UnidentifiedImageError) as err:
        raise AnnotationError(path, line_no,
                              f'unreadable image {resolved!r}: {err}') from None
    return resolved


def read_landmark_tsv(path: str,
                      num_keypoints: int,
                      image_root: Optional[str] = None,
                      allow_extra_columns: bool = False,
                      labelled: bool = True,
                      check_images: bool = True) -> List[LandmarkRecord]:
    """Read an ivslab / STAR-style landmark TSV (no header row).

    Args:
        path (str): the TSV file.
        num_keypoints (int): points expected in the full landmark column.
        image_root (str, optional): where relative or foreign image paths
            are resolved.
        allow_extra_columns (bool): accept trailing attribute columns (WFLW).
        labelled (bool): ``False`` for files whose landmark columns are
            dummies (``test_q.tsv``): only the face box is used, and
            keypoints are zeros. The dummy columns may hold 68 points for a
            51-point set; the box then follows :func:`unlabelled_box`, and
            rows whose points do not match their box are reported in a
            warning.
        check_images (bool): check that every image exists and is readable.

    Returns:
        list[LandmarkRecord]: one record per line, in file order.

    Raises:
        AnnotationError: on the first problem, naming file and line.
    """
    if not osp.isfile(path):
        raise AnnotationError(path, None, 'annotation file not found')
    with open(path, encoding='utf-8') as f:
        lines = f.read().splitlines()
    if not lines:
        raise AnnotationError(path, None, 'empty annotation file (no rows)')

    records = []
    for line_no, line in enumerate(lines, start=1):
        columns = line.split('\t')
        if not line.strip():
            raise AnnotationError(path, line_no, 'empty line')
        if len(columns) < NUM_COLUMNS or (len(columns) > NUM_COLUMNS
                                          and not allow_extra_columns):
            raise AnnotationError(
                path, line_no, f'expected {NUM_COLUMNS} tab-separated columns'
                f' (image_path, landmarks, landmarks, scale, center_w, '
                f'center_h), found {len(columns)}')
        try:
            float(columns[3])
        except ValueError:
            if line_no == 1:
                raise AnnotationError(
                    path, line_no, 'looks like a header row; these files '
                    'have no header, every line is a face') from None
        image_path = columns[0].strip()
        if not image_path:
            raise AnnotationError(path, line_no, 'empty image path')
        points = _parse_floats(path, line_no, columns[2],
                               'landmarks (column 3)')
        _parse_floats(path, line_no, columns[1], 'landmarks (column 2)')
        box = _parse_floats(path, line_no, ','.join(columns[3:6]),
                            'scale/center (columns 4-6)')
        scale, center = float(box[0]), box[1:3]
        if scale <= 0:
            raise AnnotationError(path, line_no,
                                  f'scale must be positive, got {scale:g}')
        allowed = {num_keypoints}
        if not labelled and num_keypoints == 68 - JAW_POINTS_68:
            allowed.add(68)
        if points.size % 2 or points.size // 2 not in allowed:
            raise AnnotationError(
                path, line_no,
                f'expected {num_keypoints} points ({2 * num_keypoints} '
                f'numbers) in column 3, found {points.size} numbers')
        box_source = 'columns'
        if labelled:
            keypoints = points.reshape(-1, 2)
        else:
            keypoints = np.zeros((num_keypoints, 2), dtype=np.float32)
            scale, center, box_source = unlabelled_box(
                points.reshape(-1, 2), scale, center, num_keypoints)
        if check_images:
            image_path = _check_image(path, line_no, image_path, image_root)
        else:
            image_path = resolve_image_path(image_path, image_root) or \
                image_path
        records.append(
            LandmarkRecord(line_no, image_path, keypoints, scale, center,
                           box_source))
    converted = [r.line_no for r in records if r.box_source == 'columns68']
    if converted:
        warnings.warn(
            f'{path}: {len(converted)} of {len(records)} rows have 68 dummy '
            f'points that do not give their box columns (lines '
            f'{", ".join(map(str, converted[:5]))}'
            f'{", ..." if len(converted) > 5 else ""}); their boxes are the '
            f'columns converted from the 68-point to the 51-point convention '
            f'(scale x {BOX68_TO_BOX51[0]}, centre moved by '
            f'{BOX68_TO_BOX51[1]} of the side in y)', stacklevel=2)
    return records


def format_tsv_row(image_path: str, keypoints: np.ndarray,
                   labelled: bool = True) -> str:
    """One ivslab TSV line for a face, computing scale and center.

    ``labelled=False`` writes zeros in the landmark columns, like the dummy
    landmarks of ``test_q.tsv``: only the face box (from ``keypoints``) is
    kept, for ``read_landmark_tsv(..., labelled=False)``.
    """
    scale, center = box_from_landmarks(keypoints)
    values = keypoints.reshape(-1) if labelled else np.zeros(keypoints.size)
    coords = ','.join(f'{v:.3f}' for v in values)
    return '\t'.join([
        image_path, coords, coords, f'{scale:.6f}', f'{center[0]:.3f}',
        f'{center[1]:.3f}'
    ])


def read_pts(path: str) -> np.ndarray:
    """Read a ``.pts`` landmark file.

    Returns:
        np.ndarray: (K, 2) points, K as declared by ``n_points``.
    """
    with open(path, encoding='utf-8') as f:
        lines = [line.strip() for line in f]
    try:
        header = {
            k.strip(): v.strip()
            for k, v in (line.split(':', 1) for line in lines[:2])
        }
        n_points = int(header['n_points'])
        open_at = lines.index('{')
        close_at = lines.index('}', open_at)
    except (ValueError, KeyError):
        raise AnnotationError(
            path, None, 'not a .pts file (expected "version:", "n_points:" '
            'and a { ... } block)') from None
    body = lines[open_at + 1:close_at]
    if len(body) != n_points:
        raise AnnotationError(
            path, open_at + 2,
            f'n_points is {n_points} but the block holds {len(body)} lines')
    points = [
        _parse_floats(path, open_at + 2 + i, line.replace(' ', ','), 'point')
        for i, line in enumerate(body)
    ]
    for i, point in enumerate(points):
        if point.size != 2:
            raise AnnotationError(path, open_at + 2 + i,
                                  'expected "x y" on each point line')
    return np.stack(points)


def to_51_points(keypoints: np.ndarray) -> np.ndarray:
    """68-point iBUG markup -> the 51-point ivslab markup (drops the jaw)."""
    if len(keypoints) == 51:
        return keypoints
    if len(keypoints) != 68:
        raise ValueError(f'expected 51 or 68 points, got {len(keypoints)}')
    return keypoints[JAW_POINTS_68:]


def write_tsv(path: str, rows: Iterable[str]) -> int:
    """Write TSV lines (no header); return the number written."""
    os.makedirs(osp.dirname(osp.abspath(path)), exist_ok=True)
    rows = list(rows)
    with open(path, 'w', encoding='utf-8') as f:
        f.writelines(row + '\n' for row in rows)
    return len(rows)


def convert_pts_folders(folders: Sequence[str],
                        root: str,
                        image_exts: Sequence[str] = ('.png', '.jpg', '.jpeg',
                                                     '.bmp')) -> List[str]:
    """TSV lines for every ``.pts`` file under ``folders``.

    Each ``.pts`` (51 or 68 points; 68 drops the jaw) must have an image of
    the same stem beside it or in a sibling ``images/`` folder (the ivslab
    ``labels/`` + ``images/`` layout). Image paths are written relative to
    ``root``.
    """
    rows = []
    for folder in folders:
        for dirpath, _, files in sorted(os.walk(folder)):
            for name in sorted(files):
                if not name.endswith('.pts'):
                    continue
                pts_path = osp.join(dirpath, name)
                stem = osp.splitext(name)[0]
                candidates = [
                    osp.join(d, stem + ext)
                    for d in (dirpath, osp.join(osp.dirname(dirpath), 'images'))
                    for ext in image_exts
                ]
                image = next((c for c in candidates if osp.isfile(c)), None)
                if image is None:
                    raise AnnotationError(pts_path, None,
                                          'no image with the same name beside '
                                          'it or in a sibling images/ folder')
                try:
                    keypoints = to_51_points(read_pts(pts_path))
                except ValueError as err:
                    if isinstance(err, AnnotationError):
                        raise
                    raise AnnotationError(pts_path, None, str(err)) from None
                rows.append(
                    format_tsv_row(osp.relpath(image, root), keypoints))
    return rows
