"""Per-frame latency on one image: this pipeline by stage, and MediaPipe
Face Mesh (the peer) on the same frame, in the same round-robin run.

MediaPipe is imported only when asked for; it is not a bundle dependency.
"""
from __future__ import annotations

import importlib
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional

import cv2
import numpy as np

from .errors import BundleError
from .face import video_frames
from .landmarker import Landmarker
from .track import face_box

#: The peer's pin: the last MediaPipe release with the ``solutions`` API
#: (Face Mesh with its models inside the wheel; later releases need a
#: downloaded ``.task`` file). It needs protobuf 4.25 (requirements/peer.txt).
MEDIAPIPE = 'mediapipe==0.10.21'

#: This pipeline's stages, in the order a frame passes them.
STAGES = ('detector', 'crop', 'network', 'decode')


@dataclass
class Timing:
    """Milliseconds per call of one path, and the faces each call found
    (None: the step does not find faces)."""

    times: List[float] = field(default_factory=list)
    faces: List[Optional[int]] = field(default_factory=list)

    @property
    def median(self) -> float:
        return float(np.median(self.times))

    @property
    def p90(self) -> float:
        return float(np.percentile(self.times, 90))

    @property
    def missed(self) -> int:
        """Calls that found no face."""
        return sum(1 for n in self.faces if n == 0)


def round_robin(steps: Dict[str, Callable[[], Optional[int]]], runs: int = 200,
                warmup: int = 20, rounds: int = 5) -> Dict[str, Timing]:
    """Time each step ``runs`` times after ``warmup`` calls, in
    ``rounds`` interleaved blocks so that a change of machine load hits every
    step alike. A step returns the number of faces it found, or None."""
    out = {k: Timing() for k in steps}
    for fn in steps.values():
        for _ in range(warmup):
            fn()
    for _ in range(rounds):
        for name, fn in steps.items():
            for _ in range(max(1, runs // rounds)):
                t = time.perf_counter()
                n = fn()
                out[name].times.append(1000 * (time.perf_counter() - t))
                out[name].faces.append(n)
    return out


def pipeline_steps(landmarker: Landmarker, image: np.ndarray,
                   prefix: str = '') -> Dict[str, Callable[[], Optional[int]]]:
    """The timed steps of a landmarker on one image: ``detect`` (detector,
    crop, network, decoding), ``track`` (the same from the last frame's
    landmarks, no detector) and each stage alone.

    Raises:
        ValueError: when the image has no face (nothing to time).
    """
    model, detector = landmarker.model, landmarker.detector
    faces = landmarker(image)
    if not faces:
        raise ValueError('no face found, nothing to time')
    last = np.stack([face_box(f.keypoints, landmarker.box_margin) for f in faces])
    crops = model.preprocess(image, last)[0]
    outputs = model.runner(crops)

    def stage(fn: Callable[[], object]) -> Callable[[], None]:
        return lambda: (fn(), None)[1]
    return {
        f'{prefix}detect': lambda: len(landmarker(image)),
        f'{prefix}track': lambda: len(model.predict(image, last)[0]),
        f'{prefix}detector': lambda: len(detector(image)[0]),
        f'{prefix}crop': stage(lambda: model.preprocess(image, last)),
        f'{prefix}network': stage(lambda: model.runner(crops)),
        f'{prefix}decode': stage(lambda: model.decode(outputs)),
    }


def glue(timings: Dict[str, Timing], path: str, prefix: str = '') -> float:
    """Median time of a path (``detect`` or ``track``) outside its stages'
    medians: Python calls, copies and box arithmetic."""
    stages = STAGES if path == 'detect' else STAGES[1:]
    return timings[prefix + path].median - sum(
        timings[prefix + s].median for s in stages)


class MediaPipeFaceMesh:
    """MediaPipe Face Mesh (468 points; BlazeFace short range + the mesh
    network) on RGB frames: ``static=True`` detects every frame, ``False``
    tracks from the last frame's landmarks as MediaPipe does on video.

    Raises:
        BundleError: when MediaPipe (with its ``solutions`` API) is missing,
            saying what to install.
    """

    def __init__(self, static: bool, max_faces: int = 1) -> None:
        try:  # by name, as the runtimes are: not a bundle dependency
            mp = importlib.import_module('mediapipe')
            face_mesh = mp.solutions.face_mesh
        except (ImportError, AttributeError) as err:
            raise BundleError(
                f'MediaPipe Face Mesh is not available here ({err}): pip '
                f'install {MEDIAPIPE} (see requirements/peer.txt)') from err
        self.version = mp.__version__
        self.mesh = face_mesh.FaceMesh(static_image_mode=static,
                                       max_num_faces=max_faces)

    def __call__(self, rgb: np.ndarray) -> int:
        """The number of faces found in an RGB frame."""
        result = self.mesh.process(rgb)
        return len(result.multi_face_landmarks or [])

    def close(self) -> None:
        self.mesh.close()


#: The peer's paths, by the name of ours they compare with.
PEER_PATHS = {'detect': 'MediaPipe: detect every frame',
              'track': 'MediaPipe: tracking'}


@dataclass
class Comparison:
    """This pipeline's timings (one entry per landmarker, ``LABEL: step``)
    and MediaPipe's (``MediaPipe: ...``) from one round-robin run.

    Note:
        ``skipped`` maps what was not timed (a landmarker, or a MediaPipe
        path) to why: no face in the frame, or MediaPipe not installed.
    """

    timings: Dict[str, Timing]
    labels: List[str]
    skipped: Dict[str, str]
    peer_version: Optional[str] = None

    def missed(self) -> List[str]:
        """Timed paths where some call found no face."""
        return [f'{name}: no face in {t.missed} of {len(t.faces)} calls'
                for name, t in self.timings.items() if t.missed]

    def markdown(self) -> str:
        """Both systems' paths with the ratio, then this pipeline's stages."""
        def cell(name: str) -> str:
            t = self.timings.get(name)
            if t:
                return f'{t.median:.2f} / {t.p90:.2f}'
            return self.skipped.get(name) or self.skipped.get(
                name.rsplit(': ', 1)[0], 'not timed')
        lines = ['| pipeline | path | MediaPipe Face Mesh, 468 points (ms, '
                 'median / p90) | this bundle, 51 points | MediaPipe / this |',
                 '|---|---|---|---|---|']
        for label in self.labels:
            for path, title in (('detect', 'detect + landmarks'),
                                ('track', 'tracking: landmarks only')):
                ours, peer = f'{label}: {path}', PEER_PATHS[path]
                ratio = (f'**{self.timings[peer].median / self.timings[ours].median:.2f}x**'
                         if ours in self.timings and peer in self.timings else '-')
                lines.append(f'| {label} | {title} | {cell(peer)} | {cell(ours)} '
                             f'| {ratio} |')
        lines += ['', '| pipeline | ' + ' | '.join(STAGES) +
                  ' | glue (detect / track) | detect | track |',
                  '|---|' + '---|' * (len(STAGES) + 3)]
        for label in self.labels:
            p = f'{label}: '
            if p + 'detect' not in self.timings:
                lines.append(f'| {label} | {self.skipped.get(label, "not timed")} |')
                continue
            stages = ' | '.join(f'{self.timings[p + s].median:.2f}' for s in STAGES)
            lines.append(f'| {label} | {stages} | {glue(self.timings, "detect", p):.2f}'
                         f' / {glue(self.timings, "track", p):.2f} | '
                         f'{self.timings[p + "detect"].median:.2f} | '
                         f'{self.timings[p + "track"].median:.2f} |')
        return '\n'.join(lines)


def compare(landmarkers: Dict[str, Landmarker], image: np.ndarray,
            runs: int = 200, warmup: int = 20,
            peer: bool = True) -> Comparison:
    """Time each landmarker's steps and, when ``peer`` and MediaPipe is
    installed, MediaPipe Face Mesh in both modes, on one BGR image in one
    round-robin run. A system that finds no face in the image is reported
    in ``skipped``, never timed."""
    steps: Dict[str, Callable[[], Optional[int]]] = {}
    skipped: Dict[str, str] = {}
    labels = list(landmarkers)
    for label, lm in landmarkers.items():
        try:
            steps.update(pipeline_steps(lm, image, f'{label}: '))
        except ValueError as err:
            skipped[label] = str(err)
    version, meshes = None, []
    if peer:
        rgb = np.ascontiguousarray(image[..., ::-1])  # MediaPipe takes RGB:
        # converted once, outside its timing
        try:
            for static in (True, False):
                meshes.append(MediaPipeFaceMesh(static))
            version = meshes[0].version
        except BundleError as err:
            skipped.update({name: str(err) for name in PEER_PATHS.values()})
        for mesh, name in zip(meshes, (PEER_PATHS['detect'], PEER_PATHS['track'])):
            if mesh(rgb) == 0:
                skipped[name] = 'no face found, not timed'
            else:
                steps[name] = (lambda m: lambda: m(rgb))(mesh)
    try:
        timings = round_robin(steps, runs, warmup)
    finally:
        for mesh in meshes:
            mesh.close()
    return Comparison(timings, labels, skipped, version)


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
