"""Crop, run and decode: face boxes -> landmarks, as MMPose does it.

Each step mirrors the MMPose code the model was trained and tested with,
so the bundle gives ``tools/test.py``'s landmarks:

- crop: ``GetBBoxCenterScale`` (padding), ``TopdownAffine`` (aspect ratio
  fixed to the input's, ``get_warp_matrix`` without rotation, bilinear
  ``cv2.warpAffine``), ``PoseDataPreprocessor`` (BGR -> RGB, mean/std);
- decode: ``MSRAHeatmap`` (argmax with the quarter-cell shift, or DARK with
  ``unbiased``) or ``SimCCLabel`` (argmax / split ratio), then
  ``TopdownPoseEstimator.add_pred_to_datasample`` back to the image.
"""
from __future__ import annotations

import functools
import os.path as osp
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np

from .errors import BundleError
from .runtimes import Runner, open_runner, quantize
from .spec import load_spec

Prediction = Tuple[np.ndarray, np.ndarray]


def center_scale(boxes: np.ndarray, padding: float,
                 input_size: Tuple[int, int]) -> Tuple[np.ndarray, np.ndarray]:
    """Crop centres and sizes (N, 2) of xyxy face boxes (N, 4): padded,
    then widened to the input's aspect ratio."""
    boxes = np.asarray(boxes, dtype=np.float32).reshape(-1, 4)
    scale = (boxes[:, 2:] - boxes[:, :2]) * padding
    center = (boxes[:, 2:] + boxes[:, :2]) * 0.5
    aspect = input_size[0] / input_size[1]
    w, h = scale[:, :1], scale[:, 1:]
    scale = np.where(w > h * aspect, np.hstack([w, w / aspect]),
                     np.hstack([h * aspect, h]))
    return center, scale


def warp_matrix(center: np.ndarray, scale: np.ndarray,
                input_size: Tuple[int, int]) -> np.ndarray:
    """The 2x3 image -> crop affine matrix (MMPose's ``get_warp_matrix``
    at rotation 0)."""
    dst_w, dst_h = input_size
    src = np.zeros((3, 2), dtype=np.float32)
    dst = np.zeros((3, 2), dtype=np.float32)
    src[0] = center
    src[1] = center + np.array([scale[0] * -0.5, 0.])
    dst[0] = [dst_w * 0.5, dst_h * 0.5]
    dst[1] = np.array([dst_w * 0.5, dst_h * 0.5]) + np.array([dst_w * -0.5, 0.])
    for pts in (src, dst):  # the third point: (p0 - p1) turned 90 degrees
        d = pts[0] - pts[1]
        pts[2] = pts[1] + np.r_[-d[1], d[0]]
    return cv2.getAffineTransform(np.float32(src), np.float32(dst))


@functools.lru_cache(maxsize=8)
def _blur_matrix(size: int, kernel: int) -> np.ndarray:
    """(size, size) matrix of a 1-D Gaussian blur with zero borders:
    OpenCV's kernel for ``kernel`` taps (sigma from the size, as
    ``cv2.GaussianBlur(..., 0)``), cut where it leaves the map."""
    taps = cv2.getGaussianKernel(kernel, 0, cv2.CV_64F)[:, 0]
    r = (kernel - 1) // 2
    d = np.arange(size)[None, :] - np.arange(size)[:, None]
    return np.where(np.abs(d) <= r, taps[np.clip(d + r, 0, kernel - 1)], 0.0)


def gaussian_blur(heatmaps: np.ndarray, kernel: int) -> np.ndarray:
    """MMPose's DARK modulation: a Gaussian blur of each (K, H, W) map with
    zero borders, rescaled to the map's original maximum. The separable
    blur is two matrix products (``B_h @ map @ B_w^T``), in float64: within
    1e-7 of OpenCV's float32 filter, a third of its time on 51 maps, and
    the same on every CPU (float32 sums in another order, or another
    ``log``, moved DARK's points by 0.04 heatmap cells between x86 and ARM
    on flat maps).

    Returns:
        np.ndarray: (K, H, W) float64.
    """
    k, h, w = heatmaps.shape
    maps = np.asarray(heatmaps, np.float64)
    out = _blur_matrix(h, kernel) @ maps @ _blur_matrix(w, kernel).T
    out *= (maps.reshape(k, -1).max(1) / out.reshape(k, -1).max(1))[:, None, None]
    return out


def decode_heatmaps(heatmaps: np.ndarray, unbiased: bool,
                    blur_kernel_size: int = 11) -> Prediction:
    """Keypoints in heatmap cells and scores of (N, K, H, W) heatmaps.

    Returns:
        tuple: (N, K, 2) float32 cell coordinates (-1 where the map has no
        positive value), (N, K) scores (the maxima).
    """
    heatmaps = np.asarray(heatmaps, dtype=np.float32)
    n, k, h, w = heatmaps.shape
    flat = heatmaps.reshape(n * k, -1)
    ys, xs = np.unravel_index(np.argmax(flat, axis=1), (h, w))
    locs = np.stack((xs, ys), axis=-1).astype(np.float32)
    vals = flat.max(axis=1)
    locs[vals <= 0.] = -1
    locs, vals = locs.reshape(n, k, 2), vals.reshape(n, k)
    for i in range(n):
        locs[i] = (_refine_dark(locs[i], heatmaps[i], blur_kernel_size)
                   if unbiased else _refine_quarter(locs[i], heatmaps[i]))
    return locs, vals


def _refine_quarter(locs: np.ndarray, hm: np.ndarray) -> np.ndarray:
    """A quarter cell towards the higher neighbour (MMPose's
    ``refine_keypoints``)."""
    _, h, w = hm.shape
    x, y = locs[:, 0].astype(int), locs[:, 1].astype(int)
    k = np.arange(len(locs))
    dx = np.zeros(len(locs), np.float32)
    dy = np.zeros(len(locs), np.float32)
    okx = (1 < x) & (x < w - 1) & (0 < y) & (y < h)
    oky = (1 < y) & (y < h - 1) & (0 < x) & (x < w)
    dx[okx] = hm[k[okx], y[okx], x[okx] + 1] - hm[k[okx], y[okx], x[okx] - 1]
    dy[oky] = hm[k[oky], y[oky] + 1, x[oky]] - hm[k[oky], y[oky] - 1, x[oky]]
    return locs + np.stack([np.sign(dx), np.sign(dy)], -1).astype(np.float32) * 0.25


#: (dx, dy) of the cells around the peak that DARK's Newton step reads
_DARK_CELLS = np.array([(0, 0), (1, 0), (-1, 0), (0, 1), (0, -1), (2, 0), (-2, 0),
                        (0, 2), (0, -2), (1, 1), (1, -1), (-1, 1), (-1, -1)])


def _refine_dark(locs: np.ndarray, hm: np.ndarray, kernel: int) -> np.ndarray:
    """DARK: a Newton step on the log of the blurred heatmap (MMPose's
    ``refine_keypoints_dark``, vectorised over keypoints; the log is taken
    only at the cells the step reads)."""
    _, h, w = hm.shape
    x, y = locs[:, 0].astype(int), locs[:, 1].astype(int)
    ok = (1 < x) & (x < w - 2) & (1 < y) & (y < h - 2)
    k, x, y = np.nonzero(ok)[0], x[ok], y[ok]
    out = locs.copy()
    if not len(k):
        return out
    blurred = gaussian_blur(hm[k], kernel)
    # the log of the blurred maps at the cells the step reads, in one gather
    ox, oy = _DARK_CELLS[:, 0], _DARK_CELLS[:, 1]
    v = blurred[np.arange(len(k))[:, None], y[:, None] + oy, x[:, None] + ox]
    lg = dict(zip(map(tuple, _DARK_CELLS.tolist()), np.log(np.maximum(v, 1e-10)).T))
    c = lg[0, 0]
    dx = 0.5 * (lg[1, 0] - lg[-1, 0])
    dy = 0.5 * (lg[0, 1] - lg[0, -1])
    dxx = 0.25 * (lg[2, 0] - 2 * c + lg[-2, 0])
    dxy = 0.25 * (lg[1, 1] - lg[1, -1] - lg[-1, 1] + lg[-1, -1])
    dyy = 0.25 * (lg[0, 2] - 2 * c + lg[0, -2])
    det = dxx * dyy - dxy ** 2
    good = det != 0
    det = np.where(good, det, 1.0)
    # offset = -H^-1 g with the 2x2 inverse written out
    off_x = -(dyy * dx - dxy * dy) / det
    off_y = -(-dxy * dx + dxx * dy) / det
    out[k[good], 0] += off_x[good].astype(np.float32)
    out[k[good], 1] += off_y[good].astype(np.float32)
    return out


def decode_simcc(simcc_x: np.ndarray, simcc_y: np.ndarray,
                 split_ratio: float) -> Prediction:
    """Keypoints in input pixels and scores of SimCC outputs (N, K, Wx),
    (N, K, Wy) (MMPose's ``SimCCLabel`` without DARK)."""
    sx = np.asarray(simcc_x, np.float32)
    sy = np.asarray(simcc_y, np.float32)
    locs = np.stack([sx.argmax(-1), sy.argmax(-1)], -1).astype(np.float32)
    vals = np.minimum(sx.max(-1), sy.max(-1))
    locs[vals <= 0.] = -1
    return locs / split_ratio, vals


def to_nchw(images: List[np.ndarray], swap_rb: bool) -> np.ndarray:
    """(H, W, 3) arrays -> one (N, 3, H, W) array of their dtype (float32 or
    a one-byte type), channels reversed when ``swap_rb``: OpenCV's
    ``blobFromImages`` at scale 1 and mean 0, a copy without arithmetic, a
    sixth of the time of numpy's strided copy."""
    dtype = images[0].dtype
    if dtype == np.float32:
        return cv2.dnn.blobFromImages(images, 1.0, swapRB=swap_rb, ddepth=cv2.CV_32F)
    if dtype.itemsize != 1:
        raise ValueError(f'crops of {dtype} are not supported (float32 or 8-bit)')
    blob = cv2.dnn.blobFromImages([im.view(np.uint8) for im in images], 1.0,
                                  swapRB=swap_rb, ddepth=cv2.CV_8U)
    return blob.view(dtype)


class LandmarkModel:
    """A landmark network with its crop and decoding, from a spec.

    Args:
        spec (dict): a loaded ``landmarks.json`` (:func:`load_spec`).
        runner (callable, optional): the raw network; by default the
            spec's model file in its runtime.
        num_threads (int): runtime threads.
    """

    def __init__(self, spec: Dict, runner: Optional[Runner] = None,
                 num_threads: int = 1) -> None:
        self.spec = spec
        self.input_size = tuple(int(v) for v in spec['input_size'])
        self.padding = float(spec['bbox_padding'])
        self.mean = np.asarray(spec['mean'], np.float32).reshape(3, 1, 1)
        self.std = np.asarray(spec['std'], np.float32).reshape(3, 1, 1)
        self.num_keypoints = int(spec['num_keypoints'])
        # OpenCV's own thread pool too: ``num_threads`` is the whole budget
        cv2.setNumThreads(num_threads)
        if runner is None:
            runner = open_runner(osp.join(spec['_dir'], spec['model']),
                                 num_threads)
        self.runner = runner
        self._table = self._input_table(getattr(runner, 'input_detail', None))

    @classmethod
    def from_bundle(cls, bundle_dir: str, num_threads: int = 1) -> 'LandmarkModel':
        return cls(load_spec(bundle_dir), num_threads=num_threads)

    def _input_table(self, detail: Optional[dict]) -> np.ndarray:
        """(1, 256, 3) lookup from a BGR crop's pixel values to the network's
        input values, per image channel: ``(x - mean) / std`` in float32 (the
        same float32 operations as MMPose's pre-processor, so crops are
        bit-identical: an INT8 model rounds its input, and one ulp can move
        a value across a rounding step), then the runner's quantization of
        it for a model with an integer input (``detail``: LiteRT's input
        details)."""
        order = slice(None, None, -1) if self.spec['bgr_to_rgb'] else slice(None)
        pixels = np.arange(256, dtype=np.float32)[:, None]
        table = (pixels - self.mean.reshape(3)[order]) / self.std.reshape(3)[order]
        if detail is not None:
            table = quantize(table, detail)
        return np.ascontiguousarray(table.reshape(1, 256, 3))

    def preprocess(self, image: np.ndarray, boxes: np.ndarray
                   ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Network inputs (N, 3, H, W) of face boxes (N, 4) in a BGR image,
        and their crop centres and sizes. The inputs are the normalised
        crops, or for a model with an int8 input their quantization (what
        the runner would make of the float crops)."""
        centers, scales = center_scale(boxes, self.padding, self.input_size)
        # one table lookup normalises (and quantizes) a whole crop
        crops = [cv2.LUT(cv2.warpAffine(image, warp_matrix(c, s, self.input_size),
                                        self.input_size, flags=cv2.INTER_LINEAR),
                         self._table) for c, s in zip(centers, scales)]
        return to_nchw(crops, bool(self.spec['bgr_to_rgb'])), centers, scales

    def decode(self, outputs: List[np.ndarray]) -> Prediction:
        """Keypoints in input pixels (N, K, 2) and scores (N, K)."""
        codec = self.spec['codec']
        if codec['type'] == 'heatmap':
            heatmaps = outputs[0]
            locs, scores = decode_heatmaps(heatmaps, bool(codec['unbiased']),
                                           int(codec.get('blur_kernel_size', 11)))
            factor = np.array(self.input_size, np.float32) / np.array(
                heatmaps.shape[:1:-1], np.float32)
            return locs * factor, scores
        if len(outputs) != 2:
            raise BundleError(f'a SimCC model has two outputs, got {len(outputs)}')
        return decode_simcc(outputs[0], outputs[1], float(codec['split_ratio']))

    def predict(self, image: np.ndarray, boxes: np.ndarray) -> Prediction:
        """Landmarks (N, K, 2) in image pixels and scores (N, K) of the
        faces in ``boxes`` (N, 4, xyxy face boxes in the annotation files'
        convention)."""
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        if len(boxes) == 0:
            return (np.zeros((0, self.num_keypoints, 2), np.float32),
                    np.zeros((0, self.num_keypoints), np.float32))
        crops, centers, scales = self.preprocess(image, boxes)
        kpts, scores = self.decode(self.runner(crops))
        size = np.array(self.input_size, np.float32)
        kpts = kpts / size * scales[:, None] + centers[:, None] \
            - 0.5 * scales[:, None]
        return kpts.astype(np.float32), scores.astype(np.float32)
