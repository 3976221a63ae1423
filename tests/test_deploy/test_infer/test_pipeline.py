"""The inference pipeline: crop rule, backends, face detection, inputs."""
import os
import os.path as osp
import pickle
import subprocess
import sys

import cv2
import numpy as np
import pytest
from test_deploy.deploy_fixtures import haar_findable_image

from conftest import REPO_ROOT
from ivslab_plugin.datasets import read_landmark_tsv
from ivslab_plugin.deploy import (
    BoxTransform,
    FaceLandmarkPipeline,
    HaarFaceDetector,
    TorchBackend,
    build_backend,
    fit_box_transform,
    rightmost_first,
)
from ivslab_plugin.deploy.infer.pipeline import IDENTITY


def test_pipeline_reproduces_the_topdown_test(tiny_models, synthetic_data,
                                               tmp_path):
    """Full images + the TSV boxes through the pipeline give the landmarks
    that tools/test.py (the dataset's own crop) gives, flip test included."""
    cfg, ckpt = tiny_models['simcc']
    dump = str(tmp_path / 'preds.pkl')
    proc = subprocess.run(
        [sys.executable, 'tools/test.py', cfg, ckpt, '--work-dir',
         str(tmp_path), '--dump', dump, '--cfg-options',
         f'data_root={synthetic_data["root"]}'],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
        env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(dump, 'rb') as f:
        preds = pickle.load(f)
    records = read_landmark_tsv(synthetic_data['val'], 51,
                                osp.join(synthetic_data['root'], 'images'))
    assert len(preds) == len(records) == 8

    pipeline = FaceLandmarkPipeline(TorchBackend(cfg, ckpt))
    assert pipeline.backend.model.test_cfg['flip_test'] is True
    for pred, rec in zip(preds, records):
        assert osp.samefile(pred['img_path'], rec.image_path)
        faces = pipeline(rec.image_path, rec.bbox[None])
        assert len(faces) == 1
        expected = np.asarray(pred['pred_instances']['keypoints'])[0]
        np.testing.assert_allclose(faces[0].keypoints, expected, atol=1e-3)
        np.testing.assert_allclose(faces[0].face_box, rec.bbox)


def test_every_backend_gives_the_same_output(tiny_models, simcc_sdk_export,
                                             two_face_image):
    path, _, boxes = two_face_image
    cfg, ckpt = tiny_models['simcc']
    backends = [
        TorchBackend(cfg, ckpt, flip_test=False),
        build_backend(simcc_sdk_export.backend_files[0]),
        # mmdeploy-runtime is a pinned requirement: no silent skip
        build_backend(simcc_sdk_export.sdk_dir, sdk=True),
    ]
    results = [FaceLandmarkPipeline(b)(path, boxes) for b in backends]
    for faces in results:
        assert len(faces) == 2
        assert sorted(faces[0].to_dict()) == [
            'box', 'box_score', 'face_box', 'keypoint_scores', 'keypoints', 'track_id']
        assert faces[0].keypoints.shape == (51, 2)
        assert faces[0].keypoint_scores.shape == (51, )
    torch_faces, ort_faces = results[0], results[1]
    for a, b in zip(torch_faces, ort_faces):
        np.testing.assert_allclose(a.keypoints, b.keypoints, atol=1e-3)
    if len(results) == 3:
        diff = np.abs(np.stack([f.keypoints for f in results[2]]) -
                      np.stack([f.keypoints for f in torch_faces]))
        assert np.median(diff) < 1.0


def test_fit_box_transform_recovers_a_known_transform():
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 500, (20, 2))
    wh = rng.uniform(40, 200, (20, 1)) * [1, 1.1]
    detected = np.concatenate([xy, xy + wh], 1).astype(np.float32)
    truth = BoxTransform(0.7, 0.02, 0.05)
    fitted = fit_box_transform(detected, truth(detected))
    np.testing.assert_allclose(
        [fitted.scale, fitted.shift_x, fitted.shift_y], [0.7, 0.02, 0.05],
        atol=1e-5)
    with pytest.raises(ValueError, match='same, non-zero number'):
        fit_box_transform(detected, truth(detected)[:3])


def _calibrated_haar() -> HaarFaceDetector:
    """Haar with its box transform measured on other generated faces (the
    drawn faces are not real ones: the shipped default is for real faces)."""
    detector = HaarFaceDetector(box_transform=IDENTITY)
    detected, reference = [], []
    for seed in (10, 11, 12, 13):
        image, _, boxes = haar_findable_image(seed)
        found = detector(image)[0]
        found = found[np.argsort(found[:, 0])]  # left to right, as drawn
        detected += list(found)
        reference += list(boxes)
    return HaarFaceDetector(box_transform=fit_box_transform(
        np.stack(detected), np.stack(reference)))


def test_haar_pipeline_on_a_generated_two_face_image(tiny_models,
                                                     two_face_image):
    path, faces_true, boxes_true = two_face_image
    cfg, ckpt = tiny_models['simcc']
    pipeline = FaceLandmarkPipeline(TorchBackend(cfg, ckpt),
                                    _calibrated_haar())
    faces = rightmost_first(pipeline(path))
    assert len(faces) == 2
    side = boxes_true[:, 2] - boxes_true[:, 0]
    # right-most first: the drawn faces are left to right
    for face, true_box, true_kpts, s in zip(faces, boxes_true[::-1],
                                            faces_true[::-1], side[::-1]):
        centre = (face.face_box[:2] + face.face_box[2:]) / 2
        true_centre = (true_box[:2] + true_box[2:]) / 2
        assert np.linalg.norm(centre - true_centre) < 0.2 * s
        assert 0.7 < (face.face_box[2] - face.face_box[0]) / s < 1.4
        # a briefly trained tiny model, so only roughly on the face
        err = np.linalg.norm(face.keypoints - true_kpts, axis=1).mean()
        assert err < 0.3 * s


def test_image_inputs(tiny_models, two_face_image):
    path, _, boxes = two_face_image
    cfg, ckpt = tiny_models['simcc']
    pipeline = FaceLandmarkPipeline(TorchBackend(cfg, ckpt, flip_test=False))
    image = cv2.imread(path)
    colour = pipeline(image, boxes)
    grey = pipeline(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), boxes)
    bgra = pipeline(cv2.cvtColor(image, cv2.COLOR_BGR2BGRA), boxes)
    assert len(grey) == len(bgra) == 2
    np.testing.assert_allclose(bgra[0].keypoints, colour[0].keypoints)
    # tiny image: nothing found, no error
    assert pipeline(np.zeros((8, 8, 3), np.uint8)) == []
    # very large image: the detector searches a downscaled copy
    big = cv2.resize(image, None, fx=8, fy=8, interpolation=cv2.INTER_CUBIC)
    found = HaarFaceDetector(box_transform=IDENTITY)(big)[0]
    small = HaarFaceDetector(box_transform=IDENTITY)(image)[0]
    assert len(found) == len(small) == 2
    order = np.argsort(found[:, 0]), np.argsort(small[:, 0])
    np.testing.assert_allclose(found[order[0]] / 8, small[order[1]],
                               rtol=0.1, atol=3)
    assert len(pipeline(big)) == 2

    with pytest.raises(ValueError, match='uint8'):
        pipeline(image.astype(np.float32), boxes)
    with pytest.raises(ValueError, match='x2 > x1'):
        pipeline(image, [[50, 50, 40, 90]])
    with pytest.raises(FileNotFoundError, match='image not found'):
        pipeline(path + '.missing.png')


def test_imports_stay_light():
    """MMDeploy is imported only when exporting or running ONNX Runtime."""
    code = ('import sys, ivslab_plugin, ivslab_plugin.deploy, '
            'ivslab_plugin.deploy.exports, ivslab_plugin.deploy.convert.registry, '
            'ivslab_plugin.deploy.infer.submission, '
            'ivslab_plugin.deploy.infer.demo; '
            'assert "mmdeploy" not in sys.modules, "mmdeploy imported"')
    proc = subprocess.run([sys.executable, '-c', code], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_mmdet_detector(tmp_path, two_face_image):
    """Any mmdet detector from a local config + checkpoint (here an
    untrained RTMDet-tiny: only the wiring and the filters are checked)."""
    import mmdet
    import torch
    from mmdet.registry import MODELS as DET_MODELS
    from mmdet.utils import register_all_modules
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    from ivslab_plugin.deploy import MMDetFaceDetector
    cfg = Config.fromfile(osp.join(
        osp.dirname(mmdet.__file__), '.mim', 'configs', 'rtmdet',
        'rtmdet_tiny_8xb32-300e_coco.py'))
    cfg.model.backbone.init_cfg = None  # no download
    cfg.model.test_cfg.score_thr = 0.0
    cfg_path, ckpt = str(tmp_path / 'det.py'), str(tmp_path / 'det.pth')
    cfg.dump(cfg_path)
    with DefaultScope.overwrite_default_scope('mmdet'):
        register_all_modules(init_default_scope=False)
        torch.manual_seed(0)
        torch.save({'state_dict': DET_MODELS.build(cfg.model).state_dict()},
                   ckpt)
    image = cv2.imread(two_face_image[0])
    detector = MMDetFaceDetector(cfg_path, ckpt, score_thr=0.0)
    boxes, scores = detector(image)
    assert boxes.shape == (len(scores), 4) and len(scores) > 0
    assert ((boxes[:, 2:] - boxes[:, :2]) > 0).all()
    assert len(MMDetFaceDetector(cfg_path, ckpt, score_thr=0.0,
                                 labels=[999])(image)[0]) == 0
    assert len(MMDetFaceDetector(cfg_path, ckpt,
                                 score_thr=1.01)(image)[0]) == 0
    with pytest.raises(FileNotFoundError, match='detector file not found'):
        MMDetFaceDetector(cfg_path, str(tmp_path / 'none.pth'))
