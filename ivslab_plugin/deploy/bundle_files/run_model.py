#!/usr/bin/env python3
"""Facial landmarks with this folder's model, without PyTorch.

::

    python run_model.py image_list.txt out_dir        # the challenge's interface
    python run_model.py --demo INPUT --out-dir DIR    # images, a folder or a video
    python run_model.py --bench photo.jpg             # end-to-end latency
    python run_model.py --track-report video.mp4      # tracking figures

Install on the device: pip install numpy opencv-python-headless RUNTIME_PACKAGE

Every export writes this file beside its model as ``run_model.py``, with
``ivslab_lite/`` (the device code) and ``landmarks.json``; only numpy, OpenCV
and the model's runtime are imported.
"""
import argparse
import os
import sys
import time
from typing import List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from ivslab_lite import (  # noqa: E402
    BundleError,
    Landmarker,
    LandmarkerOptions,
    read_image,
    run_demo,
)
from ivslab_lite.bench import compare, track_report  # noqa: E402
from ivslab_lite.detect import VARIANTS  # noqa: E402
from ivslab_lite.submission import (  # noqa: E402
    read_box_tsv,
    read_image_list,
    write_submission,
)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        description='Facial landmarks with an exported model: the challenge '
        'submission (one .pts-format .txt per image, right-most face first), '
        'a demo, or timings. Needs numpy, opencv-python-headless and the '
        "model's runtime only.")
    parser.add_argument('paths', nargs='*', metavar='IMAGE_LIST OUT_DIR',
                        help='a text file with one image per line, and the '
                        'output folder')
    parser.add_argument('--bundle', default=HERE,
                        help='the exported folder (default: this script\'s)')
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--detector', choices=VARIANTS,
                        help="BlazeFace: auto (short range, full range too "
                        "where faces are small or absent), full range, short "
                        "range (fastest); or OpenCV's Haar cascade (default: "
                        "the bundle's, auto)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument('--demo', metavar='INPUT',
                      help='draw landmarks on an image, folder or video')
    mode.add_argument('--bench', metavar='IMAGE',
                      help='time the pipeline per frame on one image, by stage')
    mode.add_argument('--track-report', metavar='VIDEO',
                      help='tracking speed, detector calls and jitter')
    parser.add_argument('--out-dir', help='output folder of --demo')
    parser.add_argument('--track', action='store_true',
                        help='--demo on a video: track faces from frame to frame')
    parser.add_argument('--smooth', action='store_true',
                        help='--demo --track: One-Euro filter the landmarks')
    parser.add_argument('--boxes', metavar='TSV',
                        help='IMAGE_LIST OUT_DIR: take the face boxes from an '
                        "annotation TSV's scale and centre columns instead of "
                        'the detector')
    parser.add_argument('--redetect-every', type=int, default=30)
    parser.add_argument('--runs', type=int, default=200)
    parser.add_argument('--compare-mediapipe', action='store_true',
                        help='--bench: time MediaPipe Face Mesh on the same '
                        'image in the same run (pip install mediapipe==0.10.21)')
    args = parser.parse_args(argv)
    if not args.bundle:
        parser.error('give --bundle')
    try:
        landmarker = Landmarker.create_from_options(
            LandmarkerOptions(args.bundle, args.threads, args.detector))
        if args.demo:
            if not args.out_dir:
                parser.error('--demo needs --out-dir')
            run_demo(landmarker, args.demo, args.out_dir, args.track, args.smooth)
            return 0
        if args.bench:
            detector = landmarker.detector
            label = (f"{landmarker.spec['runtime']}, "
                     f"{getattr(detector, 'variant', detector.name)}")
            result = compare({label: landmarker}, read_image(args.bench),
                             args.runs, peer=args.compare_mediapipe)
            print(f'{args.threads} thread(s), {args.runs} runs after 20 '
                  f'warm-up (ms)\n')
            print(result.markdown())
            for name, why in result.skipped.items():
                print(f'not timed: {name}: {why}', file=sys.stderr)
            return 1 if result.missed() or label in result.skipped else 0
        if args.track_report:
            rows = track_report(landmarker, args.track_report, args.redetect_every)
            print('| mode | frames | faces found | fps | detector calls / frame '
                  '| jitter (/ pupil distance) |')
            print('|---|---|---|---|---|---|')
            for r in rows:
                print(f'| {r["mode"]} | {r["frames"]} | {r["found"]} | '
                      f'{r["fps"]:.1f} | {r["detector_calls_per_frame"]:.3f} | '
                      f'{r["jitter"]:.4f} |')
            return 0
        if len(args.paths) != 2:
            parser.error('give IMAGE_LIST OUT_DIR (or --demo / --bench / '
                         '--track-report)')
        images = read_image_list(args.paths[0])
        given = read_box_tsv(args.boxes) if args.boxes else None
        start = time.perf_counter()
        summary = write_submission(landmarker, images, args.paths[1], given)
    except (BundleError, ValueError, FileNotFoundError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    return summary.report(args.paths[1], len(images), time.perf_counter() - start)


if __name__ == '__main__':
    sys.exit(main())
