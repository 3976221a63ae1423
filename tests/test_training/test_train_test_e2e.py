"""Train with the real tools, then test the checkpoint with tools/test.py:
the teacher for a few iterations (plumbing), the student until it has
learnt the synthetic faces (accuracy within a band)."""
import glob
import json
import os
import os.path as osp

import numpy as np
import pytest

from conftest import REPO_ROOT, cpu_options, run_tool  # noqa: F401 (shared)
from ivslab_plugin.datasets.tsv import read_landmark_tsv

pytestmark = pytest.mark.slow

METRICS = ('NME_pupil', 'NME_ocular', 'FR@0.10_pupil', 'AUC@0.10_pupil')


def test_teacher_trains_and_tests(synthetic_data, tmp_path):
    work_dir = str(tmp_path / 'teacher')
    # (tests never download: the backbone starts from scratch)
    opts = cpu_options(synthetic_data['root']) + ['model.backbone.init_cfg=None']
    log = run_tool('tools/train.py', 'configs/ivslab/teacher.py',
                   '--work-dir', work_dir, '--cfg-options', *opts)
    assert 'NME_pupil' in log
    best = glob.glob(osp.join(work_dir, 'best_NME_pupil_epoch_*.pth'))
    assert len(best) == 1, os.listdir(work_dir)

    out = str(tmp_path / 'metrics.json')
    show = str(tmp_path / 'vis')
    log = run_tool('tools/test.py', 'configs/ivslab/teacher.py', best[0],
                   '--work-dir', work_dir, '--out', out, '--show-dir', show,
                   '--cfg-options', *opts)
    metrics = json.load(open(out))
    assert set(METRICS) <= set(metrics)
    for name in METRICS:
        assert name in log
    # Two epochs (12 iterations, still in the warm-up) do not teach RTMPose-m
    # anything (measured NME_pupil 0.97, 0.92 without warm-up): no accuracy
    # band here (see test_student_learns_the_faces), but the reported numbers
    # must be those of the per-face errors.
    check_metrics_against_faces(metrics, str(tmp_path / 'metrics_faces.json'),
                                synthetic_data)
    # predictions are drawn for every validation face
    assert len(glob.glob(osp.join(show, '*.png'))) == 8


# What 20 epochs (120 iterations, no warm-up) of student.py reach on the
# synthetic faces, and what broken pipelines give on the same validation
# faces (measured with the labels of conftest's data; tools/test.py):
#   trained student, training seeds 0 / 1 / 2: NME_pupil 0.056 / ... / ...
#   the mean training face placed in each box (a model that ignores the
#   image; the best constant output): 0.129
#   every point at the box centre: 0.63; left and right swapped (flip pairs
#   applied to the labels): 0.67; uniform random points in the box: 0.84
# The upper bound sits between the trained student and the mean face; the
# lower one catches a metric that compares the labels with themselves.
LEARNT_NME_PUPIL = (0.01, 0.10)


def student_options(data_root: str) -> list:
    """student.py long enough to learn the synthetic faces: no warm-up (its
    500-iteration LinearLR would keep the rate near zero) and one validation
    at the end."""
    # Box padding 1.25, not the configs' 1.6: there the small drawn faces span
    # 80 of the 128 crop pixels and 20 epochs end between 0.056 and 0.102
    # (seeds 0-2), too close to the mean face to separate a learning pipeline
    # from a broken one; at 1.25 seeds 0-2 gave 0.066, 0.078, 0.059 (runs are
    # reproducible, compat.py seeds the Albumentation transform).
    padding = [f'{loader}.dataset.pipeline.1.padding=1.25' for loader in
               ('train_dataloader', 'val_dataloader', 'test_dataloader')]
    return cpu_options(data_root) + ['train_cfg.max_epochs=20', 'train_cfg.val_interval=20',
                                     'param_scheduler.0.start_factor=1.0'] + padding


def test_student_learns_the_faces(synthetic_data, tmp_path):
    work_dir = str(tmp_path / 'student')
    opts = student_options(synthetic_data['root'])
    run_tool('tools/train.py', 'configs/ivslab/student.py', '--work-dir', work_dir,
             '--cfg-options', *opts)
    (best, ) = glob.glob(osp.join(work_dir, 'best_NME_pupil_epoch_*.pth'))
    out = str(tmp_path / 'metrics.json')
    run_tool('tools/test.py', 'configs/ivslab/student.py', best, '--work-dir', work_dir,
             '--out', out, '--cfg-options', *opts)
    metrics = json.load(open(out))
    low, high = LEARNT_NME_PUPIL
    assert low < metrics['NME_pupil'] < high, metrics
    check_metrics_against_faces(metrics, str(tmp_path / 'metrics_faces.json'),
                                synthetic_data)


def check_metrics_against_faces(metrics: dict, faces_file: str, synthetic_data: dict) -> None:
    """The aggregate metrics of tools/test.py agree with its per-face errors
    and with the validation labels.

    NME_pupil is the mean of the faces' errors, FR the fraction above 0.1,
    AUC the mean of max(0, 1 - e / 0.1); each face's NME_ocular is its
    NME_pupil times its pupil / outer-corner distance ratio, computed here
    from the labels (eyes 19-24 and 25-30, corners 19 and 28).
    """
    faces = json.load(open(faces_file))['faces']
    root = synthetic_data['root']
    records = read_landmark_tsv(synthetic_data['val'], 51,
                                image_root=osp.join(root, 'images'))
    assert len(faces) == len(records) == 8
    pupil = np.array([f['NME_pupil'] for f in faces])
    assert np.isfinite(pupil).all()
    assert metrics['NME_pupil'] == pytest.approx(pupil.mean(), rel=1e-6)
    assert metrics['FR@0.10_pupil'] == pytest.approx((pupil > 0.1).mean())
    assert metrics['AUC@0.10_pupil'] == pytest.approx(
        np.clip(1 - pupil / 0.1, 0, None).mean(), rel=1e-6, abs=1e-9)
    by_image = {osp.basename(r.image_path): r.keypoints for r in records}
    for face in faces:
        kpts = by_image[osp.basename(face['img_path'])]
        pupil_dist = np.linalg.norm(kpts[19:25].mean(0) - kpts[25:31].mean(0))
        ocular_dist = np.linalg.norm(kpts[19] - kpts[28])
        assert face['NME_ocular'] == pytest.approx(
            face['NME_pupil'] * pupil_dist / ocular_dist, rel=1e-4)
