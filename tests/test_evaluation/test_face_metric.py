import numpy as np
import pytest
from mmpose.registry import METRICS

from ivslab_plugin.evaluation import auc, failure_rate


def _face(shift=0.0):
    """51 points whose eyes give a pupil distance of 40 and an ocular
    (outer-corner) distance of 60."""
    kpts = np.zeros((51, 2))
    kpts[19:25] = [[-30, 0], [-25, -3], [-15, -3], [-10, 0], [-15, 3],
                   [-25, 3]]  # centroid (-20, 0)
    kpts[25:31] = kpts[19:25][[3, 2, 1, 0, 5, 4]] * [-1, 1]  # (20, 0)
    kpts[[19, 28], 0] = [-30, 30]
    return kpts + [100, 100], kpts + [100 + shift, 100]


def _sample(pred, gt):
    return dict(
        pred_instances=dict(keypoints=pred[None]),
        gt_instances=dict(keypoints=gt[None],
                          keypoints_visible=np.ones((1, len(gt)))))


def _metric(**kwargs):
    metric = METRICS.build(dict(type='FaceLandmarkMetric', **kwargs))
    metric.dataset_meta = dict(dataset_name='ivslab')
    return metric


def test_values_computed_by_hand():
    metric = _metric()
    # every point off by 2 px, 4 px and 8 px: NME_pupil = d / 40
    samples = []
    for shift in (2.0, 4.0, 8.0):
        gt, pred = _face(shift)
        samples.append(_sample(pred, gt))
    metric.process([], samples)
    result = metric.evaluate(3)
    assert result['NME_pupil'] == pytest.approx((2 + 4 + 8) / 40 / 3)
    assert result['NME_ocular'] == pytest.approx((2 + 4 + 8) / 60 / 3)
    # pupil NMEs 0.05, 0.1, 0.2: only 0.2 fails (> 0.1)
    assert result['FR@0.10_pupil'] == pytest.approx(1 / 3)
    # AUC = mean(max(0, 1 - e / 0.1)) = (0.5 + 0 + 0) / 3
    assert result['AUC@0.10_pupil'] == pytest.approx(0.5 / 3)


def test_per_face_errors_file(tmp_path):
    out = tmp_path / 'faces.json'
    metric = _metric(outfile=str(out))
    for shift in (2.0, 8.0):
        gt, pred = _face(shift)
        metric.process([], [dict(_sample(pred, gt), img_path=f'{shift}.png')])
    result = metric.evaluate(2)
    import json
    saved = json.loads(out.read_text())
    assert saved['metrics'] == result
    assert [f['img_path'] for f in saved['faces']] == ['2.0.png', '8.0.png']
    assert [f['NME_pupil'] for f in saved['faces']] == pytest.approx(
        [2 / 40, 8 / 40])


def test_invisible_points_are_ignored():
    metric = _metric()
    gt, pred = _face(0.0)
    pred = pred.copy()
    pred[0] += 1000  # wildly wrong but invisible
    sample = _sample(pred, gt)
    sample['gt_instances']['keypoints_visible'][0, 0] = 0
    metric.process([], [sample])
    assert metric.evaluate(1)['NME_pupil'] == pytest.approx(0.0)


def test_unlabelled_face_is_an_error_not_a_silent_zero():
    metric = _metric()
    gt, pred = _face(1.0)
    sample = _sample(pred, gt)
    sample['gt_instances']['keypoints_visible'][:] = 0
    with pytest.raises(ValueError, match='unlabelled'):
        metric.process([], [sample])


def test_auc_and_failure_rate_closed_form():
    errors = np.array([0.02, 0.05, 0.2])
    # integral of the CED curve on [0, 0.1], divided by 0.1
    grid = np.linspace(0, 0.1, 100001)
    ced = (errors[None] <= grid[:, None]).mean(axis=1)
    assert auc(errors, 0.1) == pytest.approx(np.trapz(ced, grid) / 0.1,
                                             abs=1e-4)
    assert auc(errors, 0.1) == pytest.approx((0.8 + 0.5) / 3)
    assert failure_rate(errors, 0.1) == pytest.approx(1 / 3)


def test_unknown_dataset_needs_normalisers():
    metric = METRICS.build(dict(type='FaceLandmarkMetric'))
    metric.dataset_meta = dict(dataset_name='mystery')
    gt, pred = _face(1.0)
    metric.process([], [_sample(pred, gt)])
    with pytest.raises(KeyError, match='normalisers'):
        metric.evaluate(1)
    custom = _metric(normalisers=dict(pupil=([19], [28]), ocular=([19],
                                                                   [28])))
    custom.process([], [_sample(pred, gt)])
    assert custom.evaluate(1)['NME_pupil'] == pytest.approx(1 / 60)


def test_300w_normalisers():
    metric = _metric()
    metric.dataset_meta = dict(dataset_name='300w')
    gt = np.zeros((68, 2))
    gt[36:42] = [-20, 0]
    gt[42:48] = [20, 0]
    pred = gt + [4, 0]
    metric.process([], [_sample(pred, gt)])
    assert metric.evaluate(1)['NME_pupil'] == pytest.approx(4 / 40)
