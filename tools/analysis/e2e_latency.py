"""End-to-end latency of exported bundles per frame, one thread: the
detector, the crop, the network and the decoding, on a 640x480 photo with
one face (Grace Hopper, from matplotlib's sample data), as the bundle's
``run_model.py --bench`` measures it.

    python tools/analysis/e2e_latency.py BUNDLE [BUNDLE ...] [--detector short full haar]
"""
import argparse
import os.path as osp
import tempfile

import cv2
import matplotlib
import numpy as np

from ivslab_plugin.deploy.assets import cached_blazeface
from ivslab_plugin.deploy.lite.app import bench
from ivslab_plugin.deploy.lite.detect import BlazeFaceDetector, HaarFaceDetector
from ivslab_plugin.deploy.lite.landmarker import Landmarker


def photo_640x480(path: str) -> str:
    """Grace Hopper's portrait scaled to 480 px high, centred on a 640x480
    grey canvas."""
    src = cv2.imread(osp.join(osp.dirname(matplotlib.__file__), 'mpl-data',
                              'sample_data', 'grace_hopper.jpg'))
    h, w = src.shape[:2]
    small = cv2.resize(src, (round(w * 480 / h), 480), interpolation=cv2.INTER_AREA)
    canvas = np.full((480, 640, 3), 128, np.uint8)
    x = (640 - small.shape[1]) // 2
    canvas[:, x:x + small.shape[1]] = small
    cv2.imwrite(path, canvas)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('bundles', nargs='+')
    parser.add_argument('--detector', nargs='+', default=['short', 'full', 'haar'],
                        choices=['short', 'full', 'haar'])
    parser.add_argument('--runs', type=int, default=200)
    args = parser.parse_args()
    image = photo_640x480(osp.join(tempfile.mkdtemp(), 'face_640x480.png'))
    print('| bundle | runtime | detector | detect + landmarks (ms, median / p90) | '
          'track: landmarks only | detector alone | network alone |')
    print('|---|---|---|---|---|---|---|')
    for bundle in args.bundles:
        for name in args.detector:
            det = HaarFaceDetector() if name == 'haar' else \
                BlazeFaceDetector(cached_blazeface(name))
            lm = Landmarker.from_bundle(bundle, 1, det)
            t = bench(lm, image, args.runs)

            def cell(k):
                return f'{np.median(t[k]):.2f} / {np.percentile(t[k], 90):.2f}'
            print(f'| {osp.basename(osp.normpath(bundle))} | {lm.spec["runtime"]} | '
                  f'{name} | {cell("detect")} | {cell("track")} | {cell("detector")} | '
                  f'{cell("network")} |', flush=True)


if __name__ == '__main__':
    main()
