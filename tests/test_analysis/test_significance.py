"""The bootstrap intervals on constructed per-face errors whose answer is
known: a constant shift is certain, equal models differ by nothing, noise
of known spread gives the textbook width, and a verdict is a result only
when its interval excludes zero."""
import json

import numpy as np
import pytest

from ivslab_plugin.analysis.significance import (
    Interval,
    distillation_verdicts,
    gap_closed,
    mean_difference,
    read_face_errors,
    relative_difference,
    seed_spread,
)


def test_a_constant_shift_is_certain_and_equal_models_differ_by_nothing():
    a = np.linspace(0.02, 0.08, 40)
    shift = mean_difference(a, a + 0.01)
    assert shift.value == pytest.approx(-0.01)
    assert (shift.low, shift.high) == pytest.approx((-0.01, -0.01))
    assert shift.significant
    same = mean_difference(a, a.copy())
    assert (same.value, same.low, same.high) == (0.0, 0.0, 0.0)
    assert not same.significant
    # relative: 20 % lower error on every face
    rel = relative_difference(0.8 * a, a)
    assert (rel.value, rel.low, rel.high) == pytest.approx((-0.2, -0.2, -0.2))


def test_noise_of_known_spread_gives_the_textbook_interval():
    # per-face differences +-0.01, half each: mean 0, standard error
    # 0.01 / sqrt(400) = 0.0005, so the 95 % interval is about +-0.00098
    b = np.full(400, 0.05)
    a = b + np.tile([0.01, -0.01], 200)
    diff = mean_difference(a, b)
    assert diff.value == pytest.approx(0.0, abs=1e-12)
    assert not diff.significant
    assert diff.low == pytest.approx(-0.00098, rel=0.15)
    assert diff.high == pytest.approx(0.00098, rel=0.15)
    # the same mean difference on 16 faces is 5 times less certain
    small = mean_difference(a[:16], b[:16])
    assert small.high - small.low == pytest.approx(5 * (diff.high - diff.low), rel=0.3)


def test_a_real_difference_in_noise_is_found_and_a_small_one_is_not():
    rng = np.random.default_rng(0)
    student = rng.gamma(4.0, 0.01, 300)
    noise = rng.normal(0, 0.004, 300)
    assert relative_difference(student * 0.9 + noise, student).significant
    assert not relative_difference(student * 0.999 + noise, student).significant


def test_gap_closed_and_the_verdicts():
    t, s = np.full(50, 0.03), np.full(50, 0.05)
    noise = np.tile([0.002, -0.002], 25)
    closed = gap_closed(t + noise, s + noise, s - 0.012 + noise)
    assert closed.value == pytest.approx(0.6)
    assert (closed.low, closed.high) == pytest.approx((0.6, 0.6))
    lines = distillation_verdicts(dict(teacher=t + noise, student=s + noise,
                                       student_kd=s - 0.012 + noise)).lines()
    assert lines[0].startswith('the teacher is better than the student alone')
    assert lines[1].startswith('distillation closed 60% of the gap')
    # the distilled student differs from the student alone by noise only
    jitter = np.tile([0.004, -0.004], 25)
    lines = distillation_verdicts(dict(teacher=t, student=s, student_kd=s + jitter)).lines()
    assert lines[1].startswith('distilled vs student alone: within noise')
    # ... and a teacher no better than the student is said to be so
    lines = distillation_verdicts(dict(teacher=s + jitter, student=s,
                                       student_kd=s - 0.001)).lines()
    assert lines[0].startswith('teacher vs student alone: within noise')


def test_seeds_average_and_their_spread():
    errors = np.array([[0.01, 0.03], [0.03, 0.05]])  # two seeds, two faces
    assert seed_spread(errors) == pytest.approx(np.std([0.02, 0.04], ddof=1))
    assert seed_spread(errors[:1]) == 0.0
    diff = mean_difference(errors, errors - 0.005)
    assert (diff.value, diff.low, diff.high) == pytest.approx((0.005, 0.005, 0.005))


def test_bad_inputs_are_refused(tmp_path):
    with pytest.raises(ValueError, match='different numbers of faces'):
        mean_difference(np.ones(5), np.ones(6))
    with pytest.raises(ValueError, match='at least 2 faces'):
        mean_difference(np.ones(1), np.ones(1))
    one, two = tmp_path / 'a.json', tmp_path / 'b.json'
    one.write_text(json.dumps(dict(faces=[dict(img_path='x.png', NME_pupil=0.1),
                                          dict(img_path='y.png', NME_pupil=0.2)])))
    two.write_text(json.dumps(dict(faces=[dict(img_path='x.png', NME_pupil=0.1),
                                          dict(img_path='z.png', NME_pupil=0.2)])))
    np.testing.assert_allclose(read_face_errors([str(one), str(one)]), [[0.1, 0.2]] * 2)
    with pytest.raises(ValueError, match='other test faces'):
        read_face_errors([str(one), str(two)])
    assert Interval(0.1, -0.01, 0.2).significant is False
