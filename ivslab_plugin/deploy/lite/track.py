"""Video: each frame's landmarks give the next frame's face box.

The detector runs on the first frame, every ``redetect_every`` frames (to
pick up new faces), and whenever a face is lost: its landmarks' mean score
falls below ``min_score``, or its box jumps in size or leaves the image. A
One-Euro filter can smooth the points.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import List, Optional

import numpy as np

from .detect import FaceDetector, box_iou
from .face import Face, predict_faces


def face_box(keypoints: np.ndarray, margin: float) -> np.ndarray:
    """The annotation files' face box (xyxy) of landmarks (K, 2): a square
    of side ``margin * min(w, h)`` of their box, at its centre."""
    lo, hi = keypoints.min(0), keypoints.max(0)
    half = margin * float(min(hi - lo)) / 2
    cx, cy = (lo + hi) / 2
    return np.array([cx - half, cy - half, cx + half, cy + half], np.float32)


class OneEuroFilter:
    """The One-Euro filter (Casiez et al., CHI 2012) on an array: a low-pass
    whose cutoff rises with speed, so slow jitter is smoothed and fast
    motion is not delayed.

    Args:
        freq (float): frames per second.
        min_cutoff (float): cutoff (Hz) at rest.
        beta (float): cutoff increase per unit of speed (here: face-box
            sides per second, so it does not depend on the resolution).
        d_cutoff (float): cutoff of the speed estimate.
    """

    def __init__(self, freq: float = 30.0, min_cutoff: float = 1.0,
                 beta: float = 1.0, d_cutoff: float = 1.0) -> None:
        self.freq, self.min_cutoff = freq, min_cutoff
        self.beta, self.d_cutoff = beta, d_cutoff
        self.x: Optional[np.ndarray] = None
        self.dx: Optional[np.ndarray] = None

    def _alpha(self, cutoff) -> np.ndarray:
        tau = 1.0 / (2 * math.pi * cutoff)
        return 1.0 / (1.0 + tau * self.freq)

    def __call__(self, x: np.ndarray, unit: float = 1.0) -> np.ndarray:
        """Filter one sample; ``unit`` scales speeds (the face size)."""
        x = np.asarray(x, np.float64)
        if self.x is None:
            self.x, self.dx = x, np.zeros_like(x)
            return x.astype(np.float32)
        dx = (x - self.x) * self.freq / max(unit, 1e-9)
        a_d = self._alpha(self.d_cutoff)
        self.dx = a_d * dx + (1 - a_d) * self.dx
        a = self._alpha(self.min_cutoff + self.beta * np.abs(self.dx))
        self.x = a * x + (1 - a) * self.x
        return self.x.astype(np.float32)


@dataclass
class TrackStats:
    frames: int = 0
    detector_calls: int = 0
    lost: int = 0


@dataclass
class _Track:
    face: Face
    filter: Optional[OneEuroFilter] = None
    raw: Optional[np.ndarray] = None


class FaceTracker:
    """Landmarks of every face of a video, frame by frame.

    Args:
        model: a :class:`~.landmarks.LandmarkModel` (``predict(image,
            boxes)``).
        detector (FaceDetector): finds faces when needed.
        box_margin (float): the face-box rule (1.05 in the annotations).
        redetect_every (int): run the detector at least every N frames
            (0: only when a face is lost).
        min_score (float): a face whose mean landmark score falls below this
            is lost.
        max_size_change (float): a face whose box grows or shrinks by more
            than this factor from one frame to the next is lost.
        smooth (bool): One-Euro filter the landmarks.
        fps (float): the video's frame rate (for the filter).
        min_cutoff, beta: the filter's parameters.
    """

    def __init__(self, model, detector: FaceDetector, box_margin: float = 1.05,
                 redetect_every: int = 30, min_score: float = 0.3,
                 max_size_change: float = 1.5, smooth: bool = False,
                 fps: float = 30.0, min_cutoff: float = 1.0,
                 beta: float = 1.0) -> None:
        self.model, self.detector = model, detector
        self.box_margin = box_margin
        self.redetect_every = redetect_every
        self.min_score = min_score
        self.max_size_change = max_size_change
        self.smooth, self.fps = smooth, fps
        self.min_cutoff, self.beta = min_cutoff, beta
        self.tracks: List[_Track] = []
        self.stats = TrackStats()
        self._next_id = 0

    def _detect(self, frame: np.ndarray) -> List[Face]:
        self.stats.detector_calls += 1
        return predict_faces(self.model, self.detector, frame)

    def _sane(self, face: Face, before: Face, shape) -> bool:
        if float(face.keypoint_scores.mean()) < self.min_score:
            return False
        side = face.face_box[2] - face.face_box[0]
        old = before.face_box[2] - before.face_box[0]
        if not 1 / self.max_size_change <= side / max(old, 1e-6) <= self.max_size_change:
            return False
        cx = (face.face_box[0] + face.face_box[2]) / 2
        cy = (face.face_box[1] + face.face_box[3]) / 2
        return 0 <= cx < shape[1] and 0 <= cy < shape[0]

    def __call__(self, frame: np.ndarray) -> List[Face]:
        """The faces of the next frame (their landmarks smoothed when
        ``smooth``)."""
        frame_no = self.stats.frames
        self.stats.frames += 1
        due = not self.tracks or (self.redetect_every and
                                  frame_no % self.redetect_every == 0)
        faces: List[Face] = []
        if not due:
            boxes = np.stack([face_box(t.raw, self.box_margin) for t in self.tracks])
            kpts, scores = self.model.predict(frame, boxes)
            for t, b, k, s in zip(self.tracks, boxes, kpts, scores):
                face = Face(b, k, s, t.face.track_id, detected=False)
                if self._sane(face, t.face, frame.shape):
                    faces.append(face)
                else:
                    self.stats.lost += 1
            due = len(faces) < len(self.tracks)
        if due:
            faces = self._match(self._detect(frame), faces)
        self.tracks = [self._update(f) for f in faces]
        return [t.face for t in self.tracks]

    def _match(self, detected: List[Face], tracked: List[Face]) -> List[Face]:
        """Detections take the ids of the faces they overlap (tracked this
        frame or in the last one); the rest start new tracks."""
        previous = tracked or [t.face for t in self.tracks]
        if previous and detected:
            iou = box_iou(np.stack([f.face_box for f in detected]),
                          np.stack([f.face_box for f in previous]))
            for i, face in enumerate(detected):
                j = int(iou[i].argmax())
                if iou[i, j] > 0.3:
                    face.track_id = previous[j].track_id
                    iou[:, j] = 0
                    continue
                face.track_id = self._new_id()
        else:
            for face in detected:
                face.track_id = self._new_id()
        return detected

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _update(self, face: Face) -> _Track:
        old = next((t for t in self.tracks if t.face.track_id == face.track_id),
                   None)
        track = _Track(face, old.filter if old else None, face.keypoints.copy())
        if self.smooth:
            if track.filter is None:
                track.filter = OneEuroFilter(self.fps, self.min_cutoff, self.beta)
            side = float(face.face_box[2] - face.face_box[0])
            face.keypoints = track.filter(face.keypoints, side)
        return track
