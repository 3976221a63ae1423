import numpy as np
import pytest
from mmpose.registry import METRICS

from ivslab_plugin.evaluation import auc, failure_rate


def _face(shift=0.0):
    """A ground-truth face of 51 points and the same face shifted by
    ``shift`` px along x.

    The eyes give a pupil distance of 40 (centroids (-20, 0) and (20, 0)) and
    an ocular (outer-corner 19 to 28) distance of 60. The eyes are not mirror
    images of each other, so a normaliser that drops or shifts an eye index
    gets a different distance (39.8 without points 24 and 30).
    """
    kpts = np.zeros((51, 2))
    kpts[19:25] = [[-30, 0], [-25, -3], [-15, -3], [-10, 0], [-15, 3],
                   [-25, 3]]  # centroid (-20, 0)
    kpts[25:31] = [[10, 0], [16, -3], [24, -3], [30, 0], [24, 3],
                   [16, 3]]  # centroid (20, 0)
    kpts[31:51] = np.stack([np.arange(20) - 10.0, np.full(20, 30.0)], axis=1)
    kpts[0:10] = np.stack([np.arange(10) * 6 - 27.0, np.full(10, -20.0)],
                          axis=1)
    kpts[10:19] = np.stack([np.zeros(9), np.arange(9) * 2.0], axis=1)
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


def _nonuniform_pred(gt):
    """A prediction whose errors differ from point to point and whose own
    eyes are further apart than the ground truth's.

    Per-point errors: the six right-eye points (19-24) 5 px to the left
    (so the predicted pupil distance is 45 and the ocular one 65, against 40
    and 60 in the ground truth), point 0 by (3, 4) = 5 px and point 40 by
    12 px: a sum of 6 * 5 + 5 + 12 = 47 px over 51 points.
    """
    pred = gt.copy()
    pred[19:25, 0] -= 5
    pred[0] += [3, 4]
    pred[40, 1] += 12
    return pred


def test_nonuniform_errors_normalised_by_the_ground_truth():
    metric = _metric()
    gt, _ = _face()
    metric.process([], [_sample(_nonuniform_pred(gt), gt)])
    result = metric.evaluate(1)
    # mean error 47 / 51 px over the ground truth's distances (40 and 60);
    # normalising by the prediction's (45 and 65) would give 47 / 51 / 45
    assert result['NME_pupil'] == pytest.approx(47 / 51 / 40)
    assert result['NME_ocular'] == pytest.approx(47 / 51 / 60)
    assert result['NME_pupil'] != pytest.approx(47 / 51 / 45)


def test_mean_over_visible_points_only():
    metric = _metric()
    gt, _ = _face()
    pred = _nonuniform_pred(gt)
    pred[50] += [300, 400]  # 500 px off, but not labelled
    sample = _sample(pred, gt)
    sample['gt_instances']['keypoints_visible'][0, 50] = 0
    metric.process([], [sample])
    # the 47 px of error are shared by the 50 visible points, not 51
    assert metric.evaluate(1)['NME_pupil'] == pytest.approx(47 / 50 / 40)


def test_nme_fr_and_auc_over_faces_by_hand():
    metric = _metric()
    samples = []
    # uniform shifts of 1, 2, 4 and 8 px: pupil NMEs 0.025, 0.05, 0.1, 0.2
    for shift in (1.0, 2.0, 4.0, 8.0):
        gt, pred = _face(shift)
        samples.append(_sample(pred, gt))
    gt, _ = _face()
    samples.append(_sample(_nonuniform_pred(gt), gt))  # 47 / 51 / 40
    metric.process([], samples)
    result = metric.evaluate(len(samples))
    pupil = [0.025, 0.05, 0.1, 0.2, 47 / 51 / 40]
    assert result['NME_pupil'] == pytest.approx(sum(pupil) / 5)
    assert result['NME_ocular'] == pytest.approx(
        (1 + 2 + 4 + 8 + 47 / 51) / 60 / 5)
    # a failure is NME > 0.1: only the 0.2 face; 0.1 itself is not one
    assert result['FR@0.10_pupil'] == pytest.approx(1 / 5)
    # AUC: the area under the cumulative error curve on [0, 0.1], over 0.1,
    # is the mean of max(0, 1 - e / 0.1): (0.75 + 0.5 + 0 + 0 + 0.7696) / 5
    # with the pupil NMEs above (47 / 51 / 40 = 0.02304)
    assert result['AUC@0.10_pupil'] == pytest.approx(
        (0.75 + 0.5 + 0 + 0 + (1 - 47 / 51 / 40 / 0.1)) / 5)


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
