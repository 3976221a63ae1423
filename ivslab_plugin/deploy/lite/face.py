"""A face found in an image, the challenge's face order, image and video
input, and drawing: the types every front end (the bundle, the full-stack
tools) shares."""
from __future__ import annotations

import os.path as osp
from dataclasses import dataclass
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import cv2
import numpy as np

IMAGE_EXTS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp')
VIDEO_EXTS = ('.mp4', '.avi', '.mov', '.mkv', '.webm')


@dataclass
class Face:
    """One face in an image or a video frame.

    Note:
        ``face_box`` (4,) xyxy, the annotation-style box the model cropped
        around; ``keypoints`` (K, 2) image pixels; ``keypoint_scores`` (K,);
        ``box`` (4,) the detector's box (the face box when it was given);
        ``track_id`` 0 outside a video; ``detected`` False when the box came
        from the last frame's landmarks.
    """

    face_box: np.ndarray
    keypoints: np.ndarray
    keypoint_scores: np.ndarray
    track_id: int = 0
    detected: bool = True
    box_score: float = 1.0
    box: Optional[np.ndarray] = None

    def __post_init__(self) -> None:
        if self.box is None:
            self.box = self.face_box

    def to_dict(self) -> Dict:
        """JSON-ready, rounded to 0.001 px."""
        return dict(
            box=[round(float(v), 3) for v in self.box],
            box_score=round(float(self.box_score), 5),
            face_box=[round(float(v), 3) for v in self.face_box],
            keypoints=[[round(float(x), 3), round(float(y), 3)]
                       for x, y in self.keypoints],
            keypoint_scores=[round(float(s), 5) for s in self.keypoint_scores],
            track_id=self.track_id)


def predict_faces(model, detector, image: np.ndarray,
                  face_boxes: Optional[np.ndarray] = None) -> List[Face]:
    """The faces of a BGR image in detection (or given) order: the
    detector's boxes mapped to face boxes, unless ``face_boxes`` (N, 4) are
    given, then ``model.predict`` (crop, run, decode)."""
    boxes, scores = None, None
    if face_boxes is None:
        boxes, scores = detector(image)
        face_boxes = detector.face_boxes(boxes)
    face_boxes = np.asarray(face_boxes, np.float32).reshape(-1, 4)
    kpts, kscores = model.predict(image, face_boxes)
    return [Face(face_boxes[i], kpts[i], kscores[i],
                 box_score=1.0 if scores is None else float(scores[i]),
                 box=None if boxes is None else boxes[i])
            for i in range(len(face_boxes))]


def rightmost_first(faces: Sequence[Face]) -> List[Face]:
    """Faces by the centre of their face box, right-most first (the
    challenge's order for several faces); ties keep their order."""
    return sorted(faces, key=lambda f: -float(f.face_box[0] + f.face_box[2]))


def read_image(path: str) -> np.ndarray:
    """An image file as (H, W, 3) uint8 BGR (greyscale and 16-bit images
    are converted).

    Raises:
        FileNotFoundError / ValueError: naming the file.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: image not found')
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError(f'{path}: not a readable image')
    return image


def video_frames(path: str) -> Iterator[Tuple[np.ndarray, float]]:
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


def draw(image: np.ndarray, faces: Sequence[Face]) -> np.ndarray:
    """Face boxes and landmarks drawn on a copy of a BGR image, sized to
    the faces."""
    out = image.copy()
    for face in faces:
        side = float(face.face_box[2] - face.face_box[0])
        r = max(1, int(round(side / 60)))
        x0, y0, x1, y1 = (int(round(v)) for v in face.face_box)
        cv2.rectangle(out, (x0, y0), (x1, y1), (255, 128, 0), max(1, r // 2))
        for x, y in face.keypoints:
            cv2.circle(out, (int(round(x)), int(round(y))), r, (0, 255, 0), -1)
    return out
