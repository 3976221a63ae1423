"""Synthetic face-like images with known 51-point landmarks, for tests.

Not a substitute for real data: each image is a drawn cartoon face (skin
ellipse, brows, eyes, nose and lips drawn through the landmarks) under a
random similarity transform, so a model can learn it in a few iterations.
"""
from __future__ import annotations

import os
import os.path as osp
from typing import List, Optional, Tuple

import cv2
import numpy as np

from ..datasets.tsv import format_tsv_row, write_tsv


def _arc(cx: float, cy: float, rx: float, ry: float, start: float, stop: float,
         n: int) -> np.ndarray:
    t = np.linspace(start, stop, n)
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


def template_51() -> np.ndarray:
    """A frontal 51-point face in a [-1, 1] box (y down; subject's right is
    image left).

    Returns:
        np.ndarray: (51, 2) points in the ivslab order.
    """
    pi = np.pi
    brow_r = _arc(-0.45, -0.35, 0.32, 0.15, pi, 2 * pi, 7)[1:6]
    brow_l = brow_r[::-1] * [-1, 1]
    bridge = np.stack([np.zeros(4), np.linspace(-0.3, 0.08, 4)], axis=1)
    lower_nose = np.array([[-0.2, 0.18], [-0.1, 0.23], [0, 0.26], [0.1, 0.23],
                           [0.2, 0.18]])
    # right eye: outer corner, two upper-lid points, inner corner, two lower
    eye_r = np.concatenate([
        _arc(-0.42, -0.18, 0.17, 0.08, pi, 2 * pi, 4),
        _arc(-0.42, -0.18, 0.17, 0.08, 0, pi, 4)[1:3]
    ])
    # left eye: inner corner first, mirror of the right eye's order
    eye_l = eye_r[[3, 2, 1, 0, 5, 4]] * [-1, 1]
    outer_top = _arc(0, 0.6, 0.38, 0.14, pi, 2 * pi, 7)
    outer_bottom = _arc(0, 0.6, 0.38, 0.18, 0, pi, 7)[1:6]
    inner_top = _arc(0, 0.6, 0.26, 0.05, pi, 2 * pi, 5)
    inner_bottom = _arc(0, 0.6, 0.26, 0.08, 0, pi, 5)[1:4]
    pts = np.concatenate([
        brow_r, brow_l, bridge, lower_nose, eye_r, eye_l, outer_top,
        outer_bottom, inner_top, inner_bottom
    ])
    assert pts.shape == (51, 2)
    return pts.astype(np.float32)


_CONTOURS = [(range(0, 5), False), (range(5, 10), False),
             (range(10, 14), False), (range(14, 19), False),
             (range(19, 25), True), (range(25, 31), True),
             (range(31, 43), True), (range(43, 51), True)]


def draw_face(image: np.ndarray, keypoints: np.ndarray,
              rng: np.random.Generator) -> None:
    """Draw a cartoon face through ``keypoints`` (51, 2) onto ``image``."""
    center = keypoints[10:19].mean(axis=0)
    eye_dist = np.linalg.norm(keypoints[19:25].mean(0) - keypoints[25:31].mean(0))
    angle = np.degrees(np.arctan2(*(keypoints[28] - keypoints[19])[::-1]))
    skin = tuple(int(c) for c in rng.integers(120, 230, size=3))
    cv2.ellipse(image, (int(center[0]), int(center[1])),
                (int(eye_dist * 1.25), int(eye_dist * 1.7)), angle, 0, 360,
                skin, -1, cv2.LINE_AA)
    thick = max(1, int(round(eye_dist / 25)))
    for idx, closed in _CONTOURS:
        poly = np.round(keypoints[list(idx)] * 16).astype(np.int32)
        colour = tuple(int(c) for c in rng.integers(0, 90, size=3))
        cv2.polylines(image, [poly], closed, colour, thick, cv2.LINE_AA,
                      shift=4)
    for idx in (range(19, 25), range(25, 31)):
        pupil = keypoints[list(idx)].mean(axis=0)
        cv2.circle(image, (int(pupil[0]), int(pupil[1])),
                   max(1, int(eye_dist / 12)), (20, 20, 20), -1, cv2.LINE_AA)


def synthetic_face(rng: np.random.Generator,
                   size: Tuple[int, int] = (160, 160),
                   num_faces: int = 1) -> Tuple[np.ndarray, List[np.ndarray]]:
    """One BGR image with ``num_faces`` faces placed left to right.

    Returns:
        tuple: the (H, W, 3) uint8 image and a list of (51, 2) landmarks.
    """
    w, h = size
    image = rng.integers(0, 255, size=(h, w, 3)).astype(np.uint8)
    image = cv2.GaussianBlur(image, (0, 0), 3)
    faces = []
    slot = w / num_faces
    for i in range(num_faces):
        half = min(slot, h) * rng.uniform(0.22, 0.32)
        angle = np.radians(rng.uniform(-15, 15))
        rot = np.array([[np.cos(angle), -np.sin(angle)],
                        [np.sin(angle), np.cos(angle)]])
        cx = slot * (i + 0.5) + rng.uniform(-0.08, 0.08) * slot
        cy = h / 2 + rng.uniform(-0.08, 0.08) * h
        jitter = rng.normal(0, 0.02, size=(51, 2))
        pts = (template_51() + jitter) @ rot.T * half + [cx, cy]
        draw_face(image, pts, rng)
        faces.append(pts.astype(np.float32))
    return image, faces


def write_synthetic_dataset(root: str,
                            num_train: int = 16,
                            num_val: int = 8,
                            seed: int = 0,
                            size: Tuple[int, int] = (160, 160),
                            image_subdir: str = 'synthetic',
                            num_faces: Optional[List[int]] = None) -> dict:
    """Write an ivslab-layout dataset of synthetic faces under ``root``.

    Layout: ``root/images/<image_subdir>/*.png``,
    ``root/annotations/ivslab/train.tsv`` and ``test.tsv``; image paths in
    the TSVs are relative to ``root/images``.

    Returns:
        dict: ``train``/``val`` TSV paths and the ``faces`` per image.
    """
    rng = np.random.default_rng(seed)
    image_dir = osp.join(root, 'images', image_subdir)
    os.makedirs(image_dir, exist_ok=True)
    splits = {'train': [], 'val': []}
    faces = {}
    total = num_train + num_val
    for i in range(total):
        count = num_faces[i] if num_faces else 1
        image, kpts = synthetic_face(rng, size, count)
        name = f'face_{i:04d}.png'
        cv2.imwrite(osp.join(image_dir, name), image)
        rel = osp.join(image_subdir, name)
        faces[rel] = kpts
        split = 'train' if i < num_train else 'val'
        splits[split] += [format_tsv_row(rel, k) for k in kpts]
    ann_dir = osp.join(root, 'annotations', 'ivslab')
    paths = {
        'train': osp.join(ann_dir, 'train.tsv'),
        'val': osp.join(ann_dir, 'test.tsv')
    }
    for split, rows in splits.items():
        write_tsv(paths[split], rows)
    return dict(paths, faces=faces)
