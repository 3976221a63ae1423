"""Draw 51 landmarks on an image, a folder or a video.

``python tools/demo.py INPUT --out-dir DIR --model MODEL [--config CFG]``;
also writes ``results.json``.
"""
import argparse
import sys

from landmark_args import add_model_args, build_pipeline

import ivslab_plugin  # noqa: F401  (compat fixes before mmdeploy)
from ivslab_plugin.deploy.infer.demo import LandmarkDrawer
from ivslab_plugin.deploy.lite.demo import run_demo


def main() -> int:
    parser = argparse.ArgumentParser(
        description='Detect faces and draw their 51 landmarks on an image, '
        'a folder of images or a video; also writes results.json')
    parser.add_argument('input', help='image, folder of images, or video')
    parser.add_argument('--out-dir', required=True)
    parser.add_argument('--kpt-thr', type=float, default=float('-inf'),
                        help='hide keypoints scoring below this')
    add_model_args(parser)
    args = parser.parse_args()
    results = run_demo(build_pipeline(parser, args), args.input, args.out_dir,
                       drawer=LandmarkDrawer(kpt_thr=args.kpt_thr).draw)
    return 0 if results else 1


if __name__ == '__main__':
    sys.exit(main())
