"""The challenge submission script.

``python tools/run_model.py <image_list.txt> <output_dir> --model MODEL``
writes ``<image id>.txt`` (.pts, 51 points, right-most face first) per
image; ``--tsv test_q.tsv`` uses its face boxes instead of a detector.
"""
import argparse
import sys
import time

from landmark_args import add_model_args, build_pipeline

import ivslab_plugin  # noqa: F401  (compat fixes before mmdeploy)
from ivslab_plugin.deploy.infer.submission import boxes_from_tsv
from ivslab_plugin.deploy.lite.submission import read_image_list, write_submission


def main() -> int:
    parser = argparse.ArgumentParser(
        description='Write the challenge submission: one .pts-format .txt '
        'per image (51 points per face, right-most face first)')
    parser.add_argument('image_list', help='text file, one image per line')
    parser.add_argument('output_dir')
    parser.add_argument('--tsv', help='use the face boxes of this TSV '
                        '(test_q.tsv) instead of a detector')
    parser.add_argument('--image-root', help='image root for --tsv paths')
    parser.add_argument('--multi-face', metavar='TEST_Q_TXT',
                        help='with --tsv: ids of images holding more faces than '
                        'their rows (test_q.txt); the detector adds the faces '
                        'the TSV lacks, and all are written right-most first')
    add_model_args(parser, required=False)
    args = parser.parse_args()
    if not args.model:
        parser.error('give --model (or set IVSLAB_MODEL)')
    images = read_image_list(args.image_list)
    pipeline = build_pipeline(parser, args)
    if args.multi_face and not args.tsv:
        parser.error('--multi-face needs --tsv')
    tsv_boxes = boxes_from_tsv(args.tsv, args.image_root,
                               multi_face=args.multi_face) if args.tsv else None
    start = time.perf_counter()
    summary = write_submission(pipeline, images, args.output_dir, tsv_boxes,
                               log=lambda m: print(m, file=sys.stderr))
    return summary.report(args.output_dir, len(images), time.perf_counter() - start)


if __name__ == '__main__':
    sys.exit(main())
