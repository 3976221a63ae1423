"""A briefly trained ``student.py`` checkpoint runs through MMPose's own API
(``init_model`` + ``inference_topdown``, and ``MMPoseInferencer``), offline,
with nothing but the config and the checkpoint."""
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest

from conftest import REPO_ROOT
from ivslab_plugin.datasets import read_landmark_tsv

pytestmark = pytest.mark.slow

STUDENT = osp.join(REPO_ROOT, 'configs', 'ivslab', 'student.py')


@pytest.fixture(scope='module')
def student_ckpt(synthetic_data, tmp_path_factory) -> str:
    """student.py trained for one epoch (3 steps) with tools/train.py."""
    work_dir = str(tmp_path_factory.mktemp('student'))
    opts = [f'data_root={synthetic_data["root"]}', 'train_cfg.max_epochs=1',
            'train_dataloader.batch_size=8', 'train_cfg.val_interval=2']
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts += [f'{loader}.num_workers=0', f'{loader}.persistent_workers=False']
    proc = subprocess.run([sys.executable, osp.join(REPO_ROOT, 'tools', 'train.py'), STUDENT,
                           '--work-dir', work_dir, '--cfg-options', *opts],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return osp.join(work_dir, 'epoch_1.pth')


@pytest.fixture(scope='module')
def face_on_canvas(synthetic_data, tmp_path_factory):
    """A validation face pasted into the right part of a wider image, and
    its xyxy box there: predictions mapped back to the wrong frame (the
    crop's, or the whole image's) would leave the box."""
    (record, ) = read_landmark_tsv(synthetic_data['val'], 51,
                                   image_root=osp.join(synthetic_data['root'], 'images'))[:1]
    face = cv2.imread(record.image_path)
    h, w = face.shape[:2]
    canvas = np.full((h + 40, w + 200, 3), 128, np.uint8)
    canvas[40:, 200:] = face
    path = str(tmp_path_factory.mktemp('image') / 'canvas.png')
    cv2.imwrite(path, canvas)
    return path, record.bbox + np.array([200, 40, 200, 40], np.float32), face


def test_inference_topdown_runs_the_checkpoint(student_ckpt, face_on_canvas, tmp_path,
                                               monkeypatch):
    from mmpose.apis import inference_topdown, init_model
    monkeypatch.chdir(tmp_path)  # nothing read relative to the working directory
    path, box, _ = face_on_canvas
    model = init_model(STUDENT, student_ckpt, device='cpu')
    # the checkpoint carries the 51-point metainfo
    assert model.dataset_meta['dataset_name'] == 'ivslab'
    assert model.dataset_meta['num_keypoints'] == 51
    (sample, ) = inference_topdown(model, path, bboxes=box[None], bbox_format='xyxy')
    kpts = sample.pred_instances.keypoints
    assert kpts.shape == (1, 51, 2)
    assert sample.pred_instances.keypoint_scores.shape == (1, 51)
    # in image pixels, inside the padded face box (the config's bbox_padding)
    from mmengine.config import Config
    padding = Config.fromfile(STUDENT).bbox_padding
    center, half = (box[:2] + box[2:]) / 2, (box[2:] - box[:2]) / 2 * padding
    assert (np.abs(kpts[0] - center) <= half + 1).all(), (kpts[0].min(0), kpts[0].max(0), box)


def test_mmpose_inferencer_matches_inference_topdown(student_ckpt, face_on_canvas, tmp_path,
                                                     monkeypatch):
    from mmpose.apis import MMPoseInferencer, inference_topdown, init_model
    monkeypatch.chdir(tmp_path)
    _, _, face = face_on_canvas
    # No face detector is configured for this dataset, so the inferencer
    # takes the whole image as the face box: give it a face crop.
    inferencer = MMPoseInferencer(pose2d=STUDENT, pose2d_weights=student_ckpt, device='cpu')
    result = next(inferencer(face, return_vis=True))
    (pred, ) = result['predictions'][0]
    kpts = np.array(pred['keypoints'])
    assert kpts.shape == (51, 2)
    # the drawing uses the 51-point metainfo, on the input's size
    assert result['visualization'][0].shape == face.shape

    h, w = face.shape[:2]
    model = init_model(STUDENT, student_ckpt, device='cpu')
    (sample, ) = inference_topdown(model, face, bboxes=np.array([[0, 0, w, h]], np.float32))
    np.testing.assert_allclose(kpts, sample.pred_instances.keypoints[0], atol=1e-3)
