"""Draw landmarks on images or a video, and save them as JSON."""
from __future__ import annotations

import json
import os
import os.path as osp
from typing import Any, Dict, List, Optional, Tuple

import cv2
import numpy as np

from ..lite.app import IMAGE_EXTS, VIDEO_EXTS, video_frames
from .pipeline import FaceLandmarkPipeline, FaceLandmarks


def ivslab_metainfo() -> dict:
    """The 51-point metainfo (names, colours, skeleton) for drawing."""
    from mmpose.datasets.datasets.utils import parse_pose_metainfo

    from ivslab_plugin.datasets import resolve_metainfo_file
    return parse_pose_metainfo(
        dict(from_file=resolve_metainfo_file('ivslab51.py')))


class LandmarkDrawer:
    """MMPose's ``PoseLocalVisualizer`` with the 51-point skeleton.

    Args:
        metainfo (dict, optional): dataset meta; the ivslab 51 points by
            default.
        kpt_thr (float): hide keypoints scoring below this; SimCC scores are
            not probabilities, so everything is drawn by default.
    """

    def __init__(self, metainfo: Optional[dict] = None,
                 kpt_thr: float = -np.inf):
        from mmpose.visualization import PoseLocalVisualizer
        self.metainfo = metainfo or ivslab_metainfo()
        self.kpt_thr = kpt_thr
        self.visualizer = PoseLocalVisualizer(
            name=f'ivslab_demo_{id(self)}', radius=2, line_width=1)
        self.visualizer.set_dataset_meta(self.metainfo)

    def draw(self, image: np.ndarray, faces: List[FaceLandmarks]) -> np.ndarray:
        """BGR image with boxes, landmarks and skeleton drawn."""
        from mmengine.structures import InstanceData
        from mmpose.structures import PoseDataSample
        if not faces:
            return image.copy()
        # Marks scale with the faces, so tiny and huge images stay legible.
        side = float(np.median([f.face_box[2] - f.face_box[0] for f in faces]))
        self.visualizer.radius = max(1, int(round(side / 60)))
        self.visualizer.line_width = max(1, int(round(side / 120)))
        pred = InstanceData()
        pred.keypoints = np.stack([f.keypoints for f in faces])
        pred.keypoint_scores = np.stack([f.keypoint_scores for f in faces])
        pred.bboxes = np.stack([f.face_box for f in faces])
        sample = PoseDataSample(pred_instances=pred)
        drawn = self.visualizer.add_datasample(
            'demo', image[..., ::-1].copy(), sample, draw_gt=False,
            draw_bbox=True, kpt_thr=self.kpt_thr, show=False)
        return np.ascontiguousarray(drawn[..., ::-1])


def collect_inputs(source: str) -> Tuple[str, List[str]]:
    """``('video', [path])`` or ``('images', [paths])`` for a file or folder.

    Raises:
        FileNotFoundError / ValueError: with the reason.
    """
    if osp.isdir(source):
        images = sorted(
            osp.join(source, n) for n in os.listdir(source)
            if n.lower().endswith(IMAGE_EXTS))
        if not images:
            raise ValueError(f'no images ({", ".join(IMAGE_EXTS)}) in '
                             f'{source}')
        return 'images', images
    if not osp.isfile(source):
        raise FileNotFoundError(f'input not found: {source}')
    ext = osp.splitext(source)[1].lower()
    if ext in VIDEO_EXTS:
        return 'video', [source]
    if ext in IMAGE_EXTS:
        return 'images', [source]
    raise ValueError(f'{source}: not an image ({", ".join(IMAGE_EXTS)}) '
                     f'nor a video ({", ".join(VIDEO_EXTS)})')


def run_demo(pipeline: FaceLandmarkPipeline,
             source: str,
             out_dir: str,
             drawer: Optional[LandmarkDrawer] = None,
             log=print) -> Dict[str, Any]:
    """Run the pipeline on an image, a folder of images or a video.

    Writes the drawn images (same names, ``.png``) or ``<stem>.mp4``, and
    ``results.json``: ``{name: [face, ...]}`` for images, ``{name: [[face,
    ...] per frame]}`` for a video, each face as
    :meth:`FaceLandmarks.to_dict`.

    Returns:
        dict: the JSON content.
    """
    from .pipeline import load_image
    kind, paths = collect_inputs(source)
    drawer = drawer or LandmarkDrawer()
    os.makedirs(out_dir, exist_ok=True)
    results: Dict[str, Any] = {}
    if kind == 'images':
        for path in paths:
            image = load_image(path)
            faces = pipeline(image)
            name = osp.basename(path)
            if not faces:
                log(f'no face found in {path} ({image.shape[1]}x'
                    f'{image.shape[0]}); writing it undrawn')
            cv2.imwrite(
                osp.join(out_dir, osp.splitext(name)[0] + '.png'),
                drawer.draw(image, faces))
            results[name] = [f.to_dict() for f in faces]
    else:
        path = paths[0]
        out = osp.join(out_dir,
                       osp.splitext(osp.basename(path))[0] + '.mp4')
        writer, frames, empty = None, [], 0
        for frame, fps in video_frames(path):
            faces = pipeline(frame)
            empty += not faces
            if writer is None:
                writer = cv2.VideoWriter(out, cv2.VideoWriter_fourcc(*'mp4v'),
                                         fps, frame.shape[1::-1])
            writer.write(drawer.draw(frame, faces))
            frames.append([f.to_dict() for f in faces])
        if writer is None:
            raise ValueError(f'{path}: the video has no readable frames')
        writer.release()
        if empty:
            log(f'no face found in {empty} of {len(frames)} frames of {path}')
        results[osp.basename(path)] = frames
    with open(osp.join(out_dir, 'results.json'), 'w') as f:
        json.dump(results, f, indent=1)
    total = sum(len(v) for v in results.values()) if kind == 'images' else \
        sum(len(fr) for fr in next(iter(results.values())))
    log(f'{total} face(s) in {len(paths) if kind == "images" else "the video"}'
        f'; wrote {out_dir}')
    return results
