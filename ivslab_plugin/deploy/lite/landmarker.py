"""Image -> faces with their landmarks: a face detector and a landmark
model, the bundle's or the full stack's."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, List, Optional, Protocol, Tuple

import numpy as np

from .detect import FaceDetector, open_detector
from .face import Face, predict_faces, rightmost_first
from .landmarks import LandmarkModel
from .spec import load_spec
from .track import FaceTracker

#: The annotation files' face-box rule: a square of 1.05 x the shorter side
#: of the landmarks' box (the tracker turns landmarks back into boxes).
BOX_MARGIN = 1.05


class LandmarkPredictor(Protocol):
    """What a landmark model offers: a bundle's :class:`LandmarkModel`, or a
    full-stack backend (PyTorch, ONNX Runtime through MMDeploy, the SDK)."""

    def predict(self, image: np.ndarray,
                face_boxes: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        """(N, K, 2) keypoints in image pixels and (N, K) scores."""


@dataclass
class LandmarkerOptions:
    """How to open a bundle (as MediaPipe's ``FaceLandmarkerOptions``).

    Args:
        bundle: the exported folder (``landmarks.json`` and the model).
        num_threads: the runtime's threads.
        detector: BlazeFace ``'auto'``, ``'short'``, ``'full'`` or
            ``'haar'``; None: the bundle's.
    """

    bundle: str
    num_threads: int = 1
    detector: Optional[str] = None


class Landmarker:
    """Faces and landmarks of an image, right-most first.

    Args:
        model (LandmarkPredictor): crops, runs and decodes face boxes.
        detector (FaceDetector): finds the faces when no boxes are given.
        padding (float): the model's box padding (the no-face fallback box
            pads to the image's central square with it).
        box_margin (float): the face-box rule, for tracking.
        min_track_score (float): a tracked face whose mean landmark score
            falls below this is lost.
        spec (dict, optional): the bundle's spec, when built from one.
    """

    def __init__(self, model: LandmarkPredictor, detector: FaceDetector,
                 padding: float, box_margin: float = BOX_MARGIN,
                 min_track_score: float = 0.3,
                 spec: Optional[dict] = None) -> None:
        self.model, self.detector = model, detector
        self.padding, self.box_margin = float(padding), float(box_margin)
        self.min_track_score = float(min_track_score)
        self.spec = spec

    @classmethod
    def create_from_options(cls, options: LandmarkerOptions,
                            log: Callable[[str], None] = print) -> 'Landmarker':
        """The landmarker that ``options`` describe."""
        return cls.from_bundle(options.bundle, options.num_threads, log=log,
                               variant=options.detector)

    @classmethod
    def from_bundle(cls, bundle_dir: str, num_threads: int = 1,
                    detector: Optional[FaceDetector] = None,
                    log: Callable[[str], None] = print,
                    variant: Optional[str] = None) -> 'Landmarker':
        """The landmarker of an exported folder (its model, its detector or
        ``detector``, BlazeFace ``variant`` full, short or haar)."""
        spec = load_spec(bundle_dir)
        model = LandmarkModel(spec, num_threads=num_threads)
        detector = detector or open_detector(spec, spec['_dir'], num_threads,
                                             log, variant)
        return cls(model, detector, spec['bbox_padding'], spec['box_margin'],
                   spec.get('tracking', {}).get('min_score', 0.3), spec)

    def __call__(self, image: np.ndarray,
                 face_boxes: Optional[np.ndarray] = None) -> List[Face]:
        """The faces of a BGR image, right-most first (``face_boxes``: (N, 4)
        annotation-style boxes; the detector is skipped)."""
        return rightmost_first(predict_faces(self.model, self.detector, image,
                                             face_boxes))

    def tracker(self, fps: float = 30.0, smooth: bool = False,
                redetect_every: int = 30) -> FaceTracker:
        """A video tracker with this landmarker's model and detector."""
        return FaceTracker(self.model, self.detector, box_margin=self.box_margin,
                           redetect_every=redetect_every,
                           min_score=self.min_track_score, smooth=smooth, fps=fps)
