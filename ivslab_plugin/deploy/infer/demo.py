"""The full stack's drawing for the device code's demo
(:func:`ivslab_plugin.deploy.lite.demo.run_demo`): MMPose's visualiser
with the 51-point skeleton."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from ..lite.face import Face


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

    def draw(self, image: np.ndarray, faces: Sequence[Face]) -> np.ndarray:
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


def draw_demo(input: str, out_dir: str, model: str, kpt_thr: float = -np.inf) -> int:
    """``tools/demo.py INPUT --out-dir DIR --model MODEL`` with the default
    detector, as one call; 1 when nothing was drawn."""
    from ..lite.demo import run_demo
    from .backends import build_backend
    from .pipeline import FaceLandmarkPipeline
    results = run_demo(FaceLandmarkPipeline(build_backend(model)), input, out_dir,
                       drawer=LandmarkDrawer(kpt_thr=kpt_thr).draw)
    return 0 if results else 1
