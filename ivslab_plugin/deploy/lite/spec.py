"""``landmarks.json``: what a bundle's model needs around it.

Written at export from the model config, read on the device instead of any
config file. Keys:

- ``format`` / ``version``: this file's kind and layout (a bundle written by
  another layout is refused, not guessed at).
- ``model``, ``runtime``: the model file (relative to the bundle) and its
  runtime (``tflite``, ``onnxruntime`` or ``ncnn``).
- ``input_size`` (w, h), ``mean``, ``std``, ``bgr_to_rgb``: the crop the
  network takes (MMPose's ``TopdownAffine`` and ``PoseDataPreprocessor``).
- ``bbox_padding``: how much a face box (the annotation files' square box)
  is enlarged before cropping (``GetBBoxCenterScale``).
- ``codec``: ``{"type": "heatmap", "heatmap_size": [w, h], "unbiased":
  bool, "blur_kernel_size": int}`` (MMPose's ``MSRAHeatmap``) or ``{"type":
  "simcc", "split_ratio": float}`` (``SimCCLabel`` without DARK).
- ``num_keypoints``; ``box_margin``: the face-box rule (``side = margin *
  min(w, h)`` of the landmarks' box), used when tracking.
- ``detector`` (optional): ``{"type": "blazeface", "files": {variant:
  path}, "variant": "auto" | "short" | "full", "iou_thr", "box_transforms":
  {variant: [scale, shift_x, shift_y]}}``; without it, or without its
  files, OpenCV's Haar cascade is used.
"""
from __future__ import annotations

import json
import os.path as osp
from typing import Any, Dict

from .errors import BundleError
from .runtimes import RUNNERS

SPEC_NAME = 'landmarks.json'
SPEC_FORMAT = 'ivslab-landmarks'
SPEC_VERSION = 1
_REQUIRED = ('model', 'runtime', 'input_size', 'mean', 'std', 'bgr_to_rgb',
             'bbox_padding', 'codec', 'num_keypoints', 'box_margin')


def load_spec(path: str) -> Dict[str, Any]:
    """Read and check a ``landmarks.json`` (a bundle folder or the file).

    Raises:
        BundleError: missing or unreadable file, another format or version,
            missing keys.
    """
    if osp.isdir(path):
        path = osp.join(path, SPEC_NAME)
    if not osp.isfile(path):
        raise BundleError(f'{path}: no bundle spec here (export the model '
                          'with tools/deploy_embedded.py or tools/deploy.py)')
    try:
        with open(path, encoding='utf-8') as f:
            spec = json.load(f)
    except (OSError, ValueError) as err:
        raise BundleError(f'{path}: not a readable JSON spec ({err})') from err
    if not isinstance(spec, dict) or spec.get('format') != SPEC_FORMAT:
        raise BundleError(f'{path}: not a {SPEC_FORMAT} spec')
    if spec.get('version') != SPEC_VERSION:
        raise BundleError(
            f'{path}: spec version {spec.get("version")!r}, this code reads '
            f'version {SPEC_VERSION}: export the model again with this '
            'version of ivslab-plugin')
    missing = [k for k in _REQUIRED if k not in spec]
    if missing:
        raise BundleError(f'{path}: missing keys {missing}')
    if spec['runtime'] not in RUNNERS:
        raise BundleError(f'{path}: unknown runtime {spec["runtime"]!r} '
                          f'(known: {", ".join(RUNNERS)})')
    if spec['codec'].get('type') not in ('heatmap', 'simcc'):
        raise BundleError(f'{path}: unknown codec {spec["codec"]!r}')
    spec['_dir'] = osp.dirname(osp.abspath(path))
    return spec


def write_spec(spec: Dict[str, Any], path: str) -> str:
    """Write a spec (``format`` and ``version`` are added)."""
    out = dict(format=SPEC_FORMAT, version=SPEC_VERSION)
    out.update({k: v for k, v in spec.items() if not k.startswith('_')})
    with open(path, 'w', encoding='utf-8') as f:
        json.dump(out, f, indent=1)
        f.write('\n')
    return path
