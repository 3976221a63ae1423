"""Files the deployed pipeline uses besides the landmark model: MediaPipe's
BlazeFace face detector, fetched once from a registry package (the
``mediapipe`` wheel, Apache-2.0) into the cache, never at import time.

``python -m ivslab_plugin.deploy.assets`` fetches it (``make install`` does
this); exports and the command-line tools only look in the cache and fall
back to OpenCV's Haar cascade when it is empty.
"""
from __future__ import annotations

import os
import os.path as osp
import sys
from typing import Optional

from ivslab_plugin.utils.fetch import Source, default_cache_dir, extract_members, fetch_source

_MP = 'mediapipe/modules/face_detection/'
#: BlazeFace inside the mediapipe wheel: 'short' (face_detection_short_range,
#: 128 px input, faces within about 2 m) and 'full' (the sparse full-range
#: model, 192 px, faces up to about 5 m).
BLAZEFACE_FILES = {
    'short': _MP + 'face_detection_short_range.tflite',
    'full': _MP + 'face_detection_full_range_sparse.tflite',
}
MEDIAPIPE = Source('mediapipe', 'pypi', 'mediapipe==0.10.14',
                   tuple(BLAZEFACE_FILES.values()), 'Apache-2.0')


def cache_dir() -> str:
    """Where fetched packages are kept (shared with the sample-data
    builder)."""
    return os.environ.get('IVSLAB_SOURCES') or default_cache_dir()


def blazeface_path(variant: str = 'short') -> str:
    """Where the BlazeFace model lives in the cache (it may be absent)."""
    return osp.join(cache_dir(), 'blazeface', osp.basename(BLAZEFACE_FILES[variant]))


def cached_blazeface(variant: str = 'short') -> Optional[str]:
    """The cached BlazeFace model, or None."""
    path = blazeface_path(variant)
    return path if osp.isfile(path) else None


def fetch_blazeface() -> dict:
    """Fetch the mediapipe wheel (``pip download``, no dependencies) once
    and extract both BlazeFace models; returns ``{variant: path}``."""
    if all(cached_blazeface(v) for v in BLAZEFACE_FILES):
        return {v: blazeface_path(v) for v in BLAZEFACE_FILES}
    wheel = fetch_source(MEDIAPIPE, cache_dir())
    extract_members(wheel, list(BLAZEFACE_FILES.values()),
                    osp.join(cache_dir(), 'blazeface'))
    return {v: blazeface_path(v) for v in BLAZEFACE_FILES}


if __name__ == '__main__':
    try:
        for name, path in fetch_blazeface().items():
            print(f'BlazeFace {name}: {path}')
    except RuntimeError as err:
        print(f'could not fetch BlazeFace ({err}); the Haar cascade will be '
              'used', file=sys.stderr)
        sys.exit(1)
