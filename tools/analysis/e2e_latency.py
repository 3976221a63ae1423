"""End-to-end latency per frame of exported bundles against MediaPipe Face
Mesh, in one run on one pinned core: a 640x480 photo with one face (Grace
Hopper, from matplotlib's sample data), each bundle's detect and tracking
paths split by stage, and MediaPipe detecting every frame and tracking.

    python tools/analysis/e2e_latency.py BUNDLE [BUNDLE ...] [--detector auto short full]

MediaPipe needs protobuf 4.25 where the training stack pins 3.20.2, so it
lives in its own environment (``make peer``); run the tool from there to time
both systems (``.venv-peer/bin/python tools/analysis/e2e_latency.py ...``).
Without MediaPipe the bundles are timed alone. Only the bundles' own device
code is imported (numpy, OpenCV, the runtime): no PyTorch.
"""
import argparse
import datetime
import os
import os.path as osp
import platform
import sys
import tempfile

import cv2
import numpy as np

LITE = 'ivslab_lite'


def photo_640x480(path: str) -> str:
    """Grace Hopper's portrait scaled to 480 px high, centred on a 640x480
    grey canvas."""
    import matplotlib
    src = cv2.imread(osp.join(osp.dirname(matplotlib.__file__), 'mpl-data',
                              'sample_data', 'grace_hopper.jpg'))
    h, w = src.shape[:2]
    small = cv2.resize(src, (round(w * 480 / h), 480), interpolation=cv2.INTER_AREA)
    canvas = np.full((480, 640, 3), 128, np.uint8)
    x = (640 - small.shape[1]) // 2
    canvas[:, x:x + small.shape[1]] = small
    cv2.imwrite(path, canvas)
    return path


def cpu_name() -> str:
    try:
        with open('/proc/cpuinfo', encoding='utf-8') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('bundles', nargs='+')
    parser.add_argument('--detector', nargs='+', default=['auto', 'short', 'full'],
                        choices=['auto', 'short', 'full', 'haar'])
    parser.add_argument('--runs', type=int, default=300)
    parser.add_argument('--core', type=int,
                        help='the CPU core to pin to (default: the first allowed)')
    parser.add_argument('--no-peer', action='store_true',
                        help='time the bundles only')
    parser.add_argument('--image', help='another photo instead of the 640x480 one')
    args = parser.parse_args()
    for b in args.bundles:
        if not osp.isdir(osp.join(b, LITE)):
            parser.error(f'{b}: not an exported bundle (no {LITE}/ in it)')
    # every bundle carries the same device code; the first one's is imported
    sys.path.insert(0, osp.abspath(args.bundles[0]))
    from ivslab_lite.bench import compare
    from ivslab_lite.face import read_image
    from ivslab_lite.landmarker import Landmarker

    core = args.core if args.core is not None else min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {core})  # everything, MediaPipe's threads too
    image_path = args.image or photo_640x480(
        osp.join(tempfile.mkdtemp(), 'face_640x480.png'))
    image = read_image(image_path)
    landmarkers = {}
    for bundle in args.bundles:
        for variant in args.detector:
            lm = Landmarker.from_bundle(bundle, 1, variant=variant)
            name = osp.basename(osp.normpath(bundle))
            landmarkers[f'{name} ({lm.spec["runtime"]}), {variant}'] = lm
    result = compare(landmarkers, image, args.runs, peer=not args.no_peer)
    peer = f'mediapipe {result.peer_version}' if result.peer_version else \
        'MediaPipe not timed'
    print(f'{datetime.date.today()}, {cpu_name()}, core {core} only, one thread '
          f'per runtime and OpenCV; {peer}; {image.shape[1]}x{image.shape[0]} '
          f'image, {args.runs} runs per path after 20 warm-up, 5 interleaved '
          f'blocks\n`python tools/analysis/{osp.basename(__file__)} '
          f'{" ".join(sys.argv[1:])}`\n')
    print(result.markdown())
    for name, why in result.skipped.items():
        print(f'not timed: {name}: {why}', file=sys.stderr)
    missed = result.missed()
    for line in missed:
        print(f'error: {line}', file=sys.stderr)
    return 1 if missed else 0


if __name__ == '__main__':
    sys.exit(main())
