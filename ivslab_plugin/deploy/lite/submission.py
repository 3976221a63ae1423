"""The challenge's output: one ``.pts``-format ``.txt`` per image.

As the final round's ``run_model.py <image_list.txt> <output_dir>``: each
file is named after the image id (``image_0001.png`` -> ``image_0001.txt``)
and holds one ``.pts`` block per face, right-most face first.
"""
from __future__ import annotations

import os.path as osp
from typing import List, Sequence

import numpy as np


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
