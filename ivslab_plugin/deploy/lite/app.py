"""The bundle's command line (``run_model.py`` in an exported folder).

::

    python run_model.py image_list.txt out_dir        # the challenge's interface
    python run_model.py --demo INPUT --out-dir DIR    # images, a folder or a video
    python run_model.py --bench photo.jpg             # end-to-end latency
    python run_model.py --track-report video.mp4      # tracking figures

Only numpy, OpenCV and the bundle's runtime are imported.
"""
from __future__ import annotations

import argparse
import json
import os
import os.path as osp
import sys
import time
from typing import Callable, Dict, List, Optional, Sequence

import cv2
import numpy as np

from .detect import FaceDetector, open_detector, rightmost_first
from .landmarks import LandmarkModel
from .spec import BundleError, load_spec
from .submission import fallback_box, format_submission, image_id, read_image_list
from .track import Face, FaceTracker

IMAGE_EXTS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp')
VIDEO_EXTS = ('.mp4', '.avi', '.mov', '.mkv', '.webm')


def read_image(path: str) -> np.ndarray:
    """A BGR image, or a ValueError naming the file."""
    if not osp.isfile(path):
        raise ValueError(f'{path}: image not found')
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f'{path}: not a readable image')
    return image


class Landmarker:
    """A bundle's detector and landmark model: image -> faces.

    Args:
        bundle_dir (str): the exported folder.
        num_threads (int): runtime threads.
        detector (FaceDetector, optional): instead of the bundle's.
    """

    def __init__(self, bundle_dir: str, num_threads: int = 1,
                 detector: Optional[FaceDetector] = None,
                 log: Callable[[str], None] = print,
                 variant: Optional[str] = None) -> None:
        self.spec = load_spec(bundle_dir)
        self.model = LandmarkModel(self.spec, num_threads=num_threads)
        self.detector = detector or open_detector(self.spec, self.spec['_dir'],
                                                  num_threads, log, variant)

    def __call__(self, image: np.ndarray,
                 face_boxes: Optional[np.ndarray] = None) -> List[Face]:
        """The faces of an image, right-most first (``face_boxes``: skip
        the detector)."""
        scores = None
        if face_boxes is None:
            boxes, scores = self.detector(image)
            face_boxes = self.detector.face_boxes(boxes)
        face_boxes = np.asarray(face_boxes, np.float32).reshape(-1, 4)
        kpts, kscores = self.model.predict(image, face_boxes)
        return [Face(face_boxes[i], kpts[i], kscores[i],
                     box_score=1.0 if scores is None else float(scores[i]))
                for i in rightmost_first(face_boxes)]

    def tracker(self, fps: float = 30.0, smooth: bool = False,
                redetect_every: int = 30) -> FaceTracker:
        track = self.spec.get('tracking', {})
        return FaceTracker(self.model, self.detector,
                           box_margin=float(self.spec['box_margin']),
                           redetect_every=redetect_every,
                           min_score=float(track.get('min_score', 0.3)),
                           smooth=smooth, fps=fps)


def write_submission(landmarker: Landmarker, images: Sequence[str],
                     out_dir: str, log: Callable[[str], None] = print) -> Dict:
    """Write ``<id>.txt`` for every image; a bad image is reported and
    skipped, an image without a face gets the central-square fallback.

    Returns:
        dict: ``faces`` per written image, ``no_face`` and ``failed`` lists.
    """
    os.makedirs(out_dir, exist_ok=True)
    summary: Dict = dict(faces={}, no_face=[], failed=[])
    padding = float(landmarker.spec['bbox_padding'])
    for path in images:
        try:
            image = read_image(path)
        except ValueError as err:
            log(f'error: {err}')
            summary['failed'].append(path)
            continue
        faces = landmarker(image)
        if not faces:
            summary['no_face'].append(path)
            faces = landmarker(image, fallback_box(*image.shape[:2], padding))
        with open(osp.join(out_dir, image_id(path) + '.txt'), 'w',
                  encoding='utf-8') as f:
            f.write(format_submission([face.keypoints for face in faces]))
        summary['faces'][path] = len(faces)
    return summary


def draw(image: np.ndarray, faces: Sequence[Face]) -> np.ndarray:
    """Face boxes and landmarks drawn on a copy of a BGR image."""
    out = image.copy()
    for face in faces:
        side = float(face.face_box[2] - face.face_box[0])
        r = max(1, int(round(side / 60)))
        x0, y0, x1, y1 = (int(round(v)) for v in face.face_box)
        cv2.rectangle(out, (x0, y0), (x1, y1), (255, 128, 0), max(1, r // 2))
        for x, y in face.keypoints:
            cv2.circle(out, (int(round(x)), int(round(y))), r, (0, 255, 0), -1)
    return out


def face_json(face: Face) -> Dict:
    return dict(face_box=[round(float(v), 3) for v in face.face_box],
                keypoints=[[round(float(x), 3), round(float(y), 3)]
                           for x, y in face.keypoints],
                keypoint_scores=[round(float(s), 5) for s in face.scores],
                track_id=face.track_id)


def video_frames(path: str):
    """(frame, fps) of a video file, or a ValueError naming it."""
    cap = cv2.VideoCapture(path)
    if not cap.isOpened():
        raise ValueError(f'{path}: cannot open the video')
    fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            yield frame, fps
    finally:
        cap.release()


def run_demo(landmarker: Landmarker, source: str, out_dir: str, track: bool,
             smooth: bool, log: Callable[[str], None] = print) -> int:
    """Draw the landmarks of an image, a folder of images or a video
    (tracked with ``track``); also writes ``results.json``."""
    os.makedirs(out_dir, exist_ok=True)
    results: Dict = {}
    if osp.isdir(source) or source.lower().endswith(IMAGE_EXTS):
        paths = sorted(osp.join(source, n) for n in os.listdir(source)
                       if n.lower().endswith(IMAGE_EXTS)) \
            if osp.isdir(source) else [source]
        for path in paths:
            try:
                image = read_image(path)
            except ValueError as err:
                log(f'error: {err}')
                continue
            faces = landmarker(image)
            name = osp.splitext(osp.basename(path))[0]
            cv2.imwrite(osp.join(out_dir, name + '.png'), draw(image, faces))
            results[osp.basename(path)] = [face_json(f) for f in faces]
            log(f'{path}: {len(faces)} face(s)')
    elif source.lower().endswith(VIDEO_EXTS):
        name = osp.splitext(osp.basename(source))[0]
        writer, frames, tracker = None, [], None
        for frame, fps in video_frames(source):
            if tracker is None:
                tracker = landmarker.tracker(fps, smooth) if track else None
            faces = tracker(frame) if tracker else landmarker(frame)
            if writer is None:
                writer = cv2.VideoWriter(osp.join(out_dir, name + '.mp4'),
                                         cv2.VideoWriter_fourcc(*'mp4v'), fps,
                                         frame.shape[1::-1])
            writer.write(draw(frame, faces))
            frames.append([face_json(f) for f in faces])
        if writer is None:
            raise ValueError(f'{source}: the video has no readable frames')
        writer.release()
        results[osp.basename(source)] = frames
        calls = tracker.stats.detector_calls if tracker else len(frames)
        log(f'{source}: {len(frames)} frames, {calls} detector calls')
    else:
        raise ValueError(f'{source}: not an image ({", ".join(IMAGE_EXTS)}), '
                         f'a folder or a video ({", ".join(VIDEO_EXTS)})')
    with open(osp.join(out_dir, 'results.json'), 'w') as f:
        json.dump(results, f, indent=1)
    log(f'wrote {out_dir}')
    return 0


def _stats(times: List[float]) -> str:
    return f'{np.median(times):7.3f} {np.percentile(times, 90):7.3f}'


def bench(landmarker: Landmarker, image_path: str, runs: int = 200,
          warmup: int = 20) -> Dict[str, List[float]]:
    """Milliseconds per frame, end to end on one image: ``detect`` (the
    detector, crop, network and decoding), ``track`` (crop, network and
    decoding from the last frame's landmarks), and their parts."""
    image = read_image(image_path)
    model, detector = landmarker.model, landmarker.detector
    faces = landmarker(image)
    if not faces:
        raise ValueError(f'{image_path}: no face found, nothing to time')
    margin = float(landmarker.spec['box_margin'])
    from .track import face_box
    last = np.stack([face_box(f.keypoints, margin) for f in faces])
    crops = model.preprocess(image, last)[0]
    steps: Dict[str, Callable[[], object]] = {
        'detect': lambda: landmarker(image),
        'track': lambda: model.predict(image, last),
        'detector': lambda: detector(image),
        'network': lambda: model.runner(crops),
    }
    times: Dict[str, List[float]] = {k: [] for k in steps}
    for fn in steps.values():
        for _ in range(warmup):
            fn()
    rounds = 5  # round-robin blocks: a load change hits every step alike
    for _ in range(rounds):
        for name, fn in steps.items():
            for _ in range(max(1, runs // rounds)):
                t = time.perf_counter()
                fn()
                times[name].append(1000 * (time.perf_counter() - t))
    return times


def pupil_distance(kpts: np.ndarray, spec: Dict) -> float:
    left, right = spec.get('pupil_indices', [list(range(19, 25)), list(range(25, 31))])
    return float(np.linalg.norm(kpts[left].mean(0) - kpts[right].mean(0)))


def track_report(landmarker: Landmarker, video: str,
                 redetect_every: int = 30) -> List[Dict]:
    """Tracking figures on a video with and without smoothing: frames per
    second of the pipeline (video decoding excluded), detector calls per
    frame, and jitter (mean landmark motion between consecutive frames /
    pupil distance) of the first face."""
    frames = [f for f, _ in video_frames(video)]
    fps = cv2.VideoCapture(video).get(cv2.CAP_PROP_FPS) or 25.0
    if not frames:
        raise ValueError(f'{video}: no readable frames')
    rows = []
    for mode, smooth in (('detect every frame', None), ('track', False),
                         ('track + One-Euro', True)):
        tracker = landmarker.tracker(fps, bool(smooth), redetect_every) \
            if smooth is not None else None
        prev, motion, found, calls = None, [], 0, 0
        start = time.perf_counter()
        for frame in frames:
            faces = tracker(frame) if tracker else landmarker(frame)
            if tracker is None:
                calls += 1
            if not faces:
                prev = None
                continue
            found += 1
            k = faces[0].keypoints
            if prev is not None:
                motion.append(float(np.linalg.norm(k - prev, axis=1).mean()) /
                              max(pupil_distance(k, landmarker.spec), 1e-6))
            prev = k
        elapsed = time.perf_counter() - start
        calls = tracker.stats.detector_calls if tracker else calls
        rows.append(dict(mode=mode, frames=len(frames), found=found,
                         fps=len(frames) / elapsed,
                         detector_calls_per_frame=calls / len(frames),
                         jitter=float(np.mean(motion)) if motion else float('nan')))
    return rows


def main(argv: Optional[List[str]] = None, bundle_dir: Optional[str] = None) -> int:
    parser = argparse.ArgumentParser(
        description='Facial landmarks with an exported model: the challenge '
        'submission (one .pts-format .txt per image, right-most face first), '
        'a demo, or timings. Needs numpy, opencv-python-headless and the '
        "model's runtime only.")
    parser.add_argument('paths', nargs='*', metavar='IMAGE_LIST OUT_DIR',
                        help='a text file with one image per line, and the '
                        'output folder')
    parser.add_argument('--bundle', default=bundle_dir,
                        help='the exported folder (default: this script\'s)')
    parser.add_argument('--threads', type=int, default=1)
    parser.add_argument('--detector', choices=['full', 'short', 'haar'],
                        help="BlazeFace full range (finds more faces), short "
                        "range (faster) or OpenCV's Haar cascade (default: the "
                        "bundle's, full range)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument('--demo', metavar='INPUT',
                      help='draw landmarks on an image, folder or video')
    mode.add_argument('--bench', metavar='IMAGE',
                      help='time the pipeline per frame on one image')
    mode.add_argument('--track-report', metavar='VIDEO',
                      help='tracking speed, detector calls and jitter')
    parser.add_argument('--out-dir', help='output folder of --demo')
    parser.add_argument('--track', action='store_true',
                        help='--demo on a video: track faces from frame to frame')
    parser.add_argument('--smooth', action='store_true',
                        help='--demo --track: One-Euro filter the landmarks')
    parser.add_argument('--redetect-every', type=int, default=30)
    parser.add_argument('--runs', type=int, default=200)
    args = parser.parse_args(argv)
    if not args.bundle:
        parser.error('give --bundle')
    try:
        landmarker = Landmarker(args.bundle, args.threads,
                                variant=args.detector)
        if args.demo:
            if not args.out_dir:
                parser.error('--demo needs --out-dir')
            return run_demo(landmarker, args.demo, args.out_dir, args.track,
                            args.smooth)
        if args.bench:
            times = bench(landmarker, args.bench, args.runs)
            print(f'{args.threads} thread(s), {args.runs} runs after 20 '
                  f'warm-up, detector {landmarker.detector.name}, runtime '
                  f'{landmarker.spec["runtime"]}')
            print(f'{"step":<10} {"median":>7} {"p90":>7}  (ms)')
            for name, t in times.items():
                print(f'{name:<10} {_stats(t)}')
            return 0
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
        start = time.perf_counter()
        summary = write_submission(landmarker, images, args.paths[1])
    except (BundleError, ValueError, FileNotFoundError) as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    elapsed = time.perf_counter() - start
    done = len(summary['faces'])
    print(f'wrote {done} files ({sum(summary["faces"].values())} faces) to '
          f'{args.paths[1]} in {elapsed:.1f} s')
    for path in summary['no_face']:
        print(f'no face found in {path}: wrote the central-square fallback',
              file=sys.stderr)
    if summary['failed']:
        print(f'{len(summary["failed"])} of {len(images)} images failed',
              file=sys.stderr)
        return 1
    return 0
