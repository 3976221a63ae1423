"""Distillation losses: alignment across resolutions and output types."""
import math

import numpy as np
import pytest
import torch
from mmpose.codecs import MSRAHeatmap, SimCCLabel

from ivslab_plugin.models.losses import (
    FeatureDistillLoss,
    LogitDistillLoss,
    gaussian_render,
    resample_axis,
)

K = 3


def kpts(rng, size):
    return rng.uniform(0.25, 0.75, size=(1, K, 2)).astype(np.float32) * size


def heatmaps(points, input_size, heatmap_size, sigma=2.0):
    enc = MSRAHeatmap(input_size=input_size, heatmap_size=heatmap_size, sigma=sigma)
    return torch.tensor(enc.encode(points, np.ones((1, K)))['heatmaps'])[None]


def simcc(points, input_size):
    codec = SimCCLabel(input_size=input_size, sigma=(2.0, 2.0), simcc_split_ratio=2.0)
    enc = codec.encode(points, np.ones((1, K)))
    return (torch.tensor(enc['keypoint_x_labels']), torch.tensor(enc['keypoint_y_labels']))


def test_resample_axis_keeps_normalised_positions():
    x = torch.zeros(1, 8)
    x[0, 4] = 1.0  # position 4/8 = 0.5
    down = resample_axis(x, 4, -1)
    assert down.argmax() == 2 and down.max() == 1.0  # 2/4 = 0.5
    up = resample_axis(x, 16, -1)
    assert up.argmax() == 8 and up.max() == 1.0


def test_gaussian_render_of_a_sharp_distribution_is_the_codec_profile():
    prob = torch.zeros(64)
    prob[20] = 1.0  # 20 / 64 -> 5.0 on a 16-sample grid
    out = gaussian_render(prob, 16, sigma=2.0)
    expected = torch.exp(-(torch.arange(16.) - 5.0)**2 / 8)
    torch.testing.assert_close(out, expected)


@pytest.mark.parametrize('teacher_kind', ['heatmap', 'simcc'])
@pytest.mark.parametrize('student_kind', ['heatmap', 'simcc'])
def test_student_matching_the_teacher_scores_lowest(teacher_kind, student_kind):
    """A student output encoding the teacher's keypoints beats one encoding
    other keypoints, at different resolutions and across output types."""
    rng = np.random.default_rng(0)
    pts = kpts(rng, 64)
    teacher = heatmaps(pts, (64, 64), (32, 32)) if teacher_kind == 'heatmap' \
        else simcc(pts, (64, 64))
    # the student works at half the resolution, on the same crop
    good_pts, bad_pts = pts / 2, pts / 2 + 4
    if student_kind == 'heatmap':
        good = heatmaps(good_pts, (32, 32), (8, 8), 1.0)
        bad = heatmaps(bad_pts, (32, 32), (8, 8), 1.0)
    else:
        good, bad = simcc(good_pts, (32, 32)), simcc(bad_pts, (32, 32))
    loss = LogitDistillLoss(heatmap_sigma=1.0)
    assert loss(good, teacher) < loss(bad, teacher)
    assert torch.isfinite(loss(good, teacher))


def test_identical_outputs_give_zero_heatmap_loss_and_kl():
    rng = np.random.default_rng(1)
    pts = kpts(rng, 32)
    hm = heatmaps(pts, (32, 32), (8, 8))
    assert float(LogitDistillLoss()(hm, hm)) == 0.0
    sc = simcc(pts, (32, 32))
    assert float(LogitDistillLoss()(sc, sc)) == pytest.approx(0.0, abs=1e-6)


def test_resample_axis_by_hand():
    # sample j of the output reads position j * L / size of the input
    x = torch.tensor([2.0, 6.0])
    torch.testing.assert_close(resample_axis(x, 4, 0), torch.tensor([2.0, 4.0, 6.0, 6.0]))
    x = torch.tensor([1.0, 3.0, 5.0, 7.0])
    torch.testing.assert_close(resample_axis(x, 2, 0), torch.tensor([1.0, 5.0]))
    # (F.interpolate with align_corners=False would average to [2, 6])


def test_heatmap_teacher_at_twice_the_resolution_by_hand():
    # teacher 4x4 -> student grid 2x2 reads rows / columns 0 and 2:
    # target [[0, 2], [8, 10]]
    teacher = torch.arange(16.0).reshape(1, 1, 4, 4)
    loss = LogitDistillLoss(loss_weight=2.0)
    student = torch.zeros(1, 1, 2, 2)
    # 2 * mean(0^2, 2^2, 8^2, 10^2) = 2 * 168 / 4
    assert float(loss(student, teacher)) == pytest.approx(84.0)
    assert float(loss(torch.tensor([[[[0.0, 2.0], [8.0, 10.0]]]]), teacher)) == 0.0
    # per-keypoint weights: a second keypoint of weight 0 is left out
    two = torch.cat([teacher, teacher + 100], dim=1)
    weights = torch.tensor([[1.0, 0.0]])
    assert float(loss(torch.zeros(1, 2, 2, 2), two, weights)) == pytest.approx(84.0)


# KL(q || p) for q = softmax([0, ln 3]) = [1/4, 3/4] and p = uniform [1/2, 1/2]
KL_QUARTER = 0.25 * math.log(0.25 / 0.5) + 0.75 * math.log(0.75 / 0.5)


def test_simcc_kl_by_hand():
    loss = LogitDistillLoss(simcc_beta=1.0)
    ln3 = math.log(3.0)
    student = (torch.zeros(1, 1, 2), torch.zeros(1, 1, 2))
    # the teacher's 4 bins resample onto the student's 2 by reading bins 0
    # and 2: x -> [0, ln 3], y -> [ln 3, 0]; the 99s are never read
    teacher = (torch.tensor([[[0.0, 99.0, ln3, 99.0]]]),
               torch.tensor([[[ln3, 99.0, 0.0, 99.0]]]))
    assert float(loss(student, teacher)) == pytest.approx(2 * KL_QUARTER, rel=1e-5)
    # temperature 2 with beta 2 gives the same distributions, times T^2 = 4
    hot = LogitDistillLoss(simcc_beta=2.0, temperature=2.0)
    assert float(hot(student, teacher)) == pytest.approx(8 * KL_QUARTER, rel=1e-5)


def test_heatmap_teacher_to_simcc_student_by_hand():
    # max-profiles of [[0, ln 3], [0, 0]]: x [0, ln 3], y [ln 3, 0]
    teacher = torch.tensor([[[[0.0, math.log(3.0)], [0.0, 0.0]]]])
    student = (torch.zeros(1, 1, 2), torch.zeros(1, 1, 2))
    loss = LogitDistillLoss(simcc_beta=1.0)
    assert float(loss(student, teacher)) == pytest.approx(2 * KL_QUARTER, rel=1e-5)


def test_simcc_teacher_to_heatmap_student_by_hand():
    # one-hot teacher distributions on 4 bins: x at bin 0, y at bin 2, i.e.
    # positions 0 and 1 of a 2-sample grid; Gaussians of sigma 1 there give
    # hx = [1, e^-1/2], hy = [e^-1/2, 1] and the target hy^T hx
    teacher = (torch.tensor([[[100.0, 0.0, 0.0, 0.0]]]),
               torch.tensor([[[0.0, 0.0, 100.0, 0.0]]]))
    e = math.exp(-0.5)
    target = torch.tensor([[[[e, e * e], [1.0, e]]]])
    loss = LogitDistillLoss(simcc_beta=1.0, heatmap_sigma=1.0)
    assert float(loss(target, teacher)) == pytest.approx(0.0, abs=1e-12)
    expected = (e**2 + e**4 + 1 + e**2) / 4  # MSE of a zero student
    assert float(loss(torch.zeros(1, 1, 2, 2), teacher)) == pytest.approx(expected)


def test_feature_loss_by_hand():
    loss = FeatureDistillLoss(student_channels=1, teacher_channels=1)
    with torch.no_grad():
        loss.align.weight.fill_(2.0)
        loss.align.bias.fill_(1.0)
    student = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])  # -> [[3, 5], [7, 9]]
    # MSE against zeros: (9 + 25 + 49 + 81) / 4
    assert float(loss(student, torch.zeros(1, 1, 2, 2))) == pytest.approx(41.0)
    # a 1x1 student map is resized to the teacher's 2x2: constant 2 * 1 + 1
    assert float(loss(torch.ones(1, 1, 1, 1), torch.zeros(1, 1, 2, 2))) == pytest.approx(9.0)


def test_logit_loss_weights_and_temperature():
    rng = np.random.default_rng(2)
    s, t = simcc(kpts(rng, 32), (32, 32)), simcc(kpts(rng, 32), (32, 32))
    base = LogitDistillLoss()(s, t)
    torch.testing.assert_close(LogitDistillLoss(loss_weight=3.0)(s, t), base * 3)
    zero_w = torch.zeros(1, K)
    assert float(LogitDistillLoss()(s, t, zero_w)) == 0.0
    assert not torch.allclose(LogitDistillLoss(temperature=2.0)(s, t), base)


def test_feature_loss_aligns_channels_and_size():
    loss = FeatureDistillLoss(student_channels=4, teacher_channels=6)
    s = torch.randn(2, 4, 4, 4, requires_grad=True)
    t = torch.randn(2, 6, 8, 8)
    value = loss(s, t)
    value.backward()
    assert value > 0 and s.grad is not None and loss.align.weight.grad is not None


def test_normalised_feature_loss_is_one_minus_the_channel_correlation():
    torch.manual_seed(0)
    loss = FeatureDistillLoss(student_channels=6, teacher_channels=6, normalize=True)
    with torch.no_grad():  # identity projection: the loss sees the student map itself
        loss.align.weight.copy_(torch.eye(6)[:, :, None, None])
        loss.align.bias.zero_()
    t = torch.randn(4, 6, 5, 5)
    # any per-channel scale and shift of the teacher's map costs nothing
    scale = torch.rand(1, 6, 1, 1) * 10 + 0.1
    assert float(loss(t * scale + 3.0, t)) < 1e-3
    assert abs(float(loss(-t, t)) - 2.0) < 0.05      # anti-correlated
    assert abs(float(loss(torch.randn(4, 6, 5, 5), t)) - 1.0) < 0.2  # unrelated
    plain = FeatureDistillLoss(student_channels=6, teacher_channels=6)
    plain.load_state_dict(loss.state_dict())
    assert float(plain(t * scale + 3.0, t)) > 1.0
