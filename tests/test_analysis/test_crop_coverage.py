import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
from mmengine.config import Config
from scipy.stats import truncnorm

from ivslab_plugin.analysis.crop_coverage import (
    check_limits,
    config_pipelines,
    crop_coverage,
    describe_augmentation,
    format_coverage,
    geometry_pipeline,
)
from ivslab_plugin.datasets import LandmarkRecord
from ivslab_plugin.datasets.tsv import format_tsv_row

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = osp.join(REPO_ROOT, 'configs', 'ivslab')


def _face(offsets, line_no=1, side=200.0, center=(300.0, 300.0)):
    """A face with a square box of ``side`` and points at ``offsets`` (in
    units of the side) from its centre."""
    center = np.asarray(center, dtype=np.float32)
    kpts = center + np.asarray(offsets, dtype=np.float32) * side
    return LandmarkRecord(line_no, 'x.png', kpts.astype(np.float32),
                          side / 200, center)


def _test_pipeline(padding=1.25, size=64):
    return [dict(type='LoadImage'),
            dict(type='GetBBoxCenterScale', padding=padding),
            dict(type='TopdownAffine', input_size=(size, size)),
            dict(type='PackPoseInputs')]


def test_test_crop_counts_the_points_past_half_the_padded_side():
    # Crop half-side = padding / 2 box sides: 0.625 at 1.25, 0.75 at 1.5.
    faces = [_face([[0.7, 0], [0, 0], [0, -0.6]], line_no=1),
             _face([[0.3, 0.3], [-0.74, 0.1]], line_no=2)]
    faces[1].keypoints = np.concatenate([faces[1].keypoints,
                                         faces[1].keypoints[:1]])
    cov = crop_coverage(faces, _test_pipeline(), padding=1.25)
    assert (cov.crops, cov.landmarks) == (2, 6)
    assert (cov.crops_out, cov.landmarks_out) == (2, 2)
    assert cov.lines_out == [1, 2]
    assert cov.zero_weight is None and cov.padding == 1.25
    wider = crop_coverage(faces, _test_pipeline(), padding=1.5)
    assert (wider.crops_out, wider.landmarks_out) == (0, 0)
    # the pipeline's own padding when none is given
    assert crop_coverage(faces, _test_pipeline(1.5)).landmarks_out == 0


def test_training_crops_follow_the_fixed_scale():
    # scale fixed at 0.8 (no shift, no rotation): the 1.5-padded crop
    # shrinks to 1.2 box sides, so a point at 0.65 leaves every crop.
    pipeline = _test_pipeline(1.5)
    pipeline.insert(2, dict(type='RandomBBoxTransform', shift_prob=0,
                            scale_factor=[0.8, 0.8], rotate_prob=0))
    faces = [_face([[0.65, 0], [0.55, 0]])]
    cov = crop_coverage(faces, pipeline, 'train', draws=7)
    assert (cov.crops, cov.crops_out, cov.landmarks_out) == (7, 7, 7)
    assert cov.augmentation == ('scale 0.8-0.8, shift 0.16 (p 0), '
                                'rotate 80 (p 0)')


def test_training_scale_is_drawn_as_mmpose_draws_it():
    # RandomBBoxTransform draws the scale from a normal truncated at +-1
    # sigma: with scale 0.5-1.5 and padding 1, a point at 0.4 of the side
    # leaves the crop when the scale is below 0.8, i.e. z < -0.4: 27.2 %
    # (a uniform draw would give 30 %).
    pipeline = _test_pipeline(1.0)
    pipeline.insert(2, dict(type='RandomBBoxTransform', shift_prob=0,
                            scale_factor=[0.5, 1.5], rotate_prob=0))
    draws = 4000
    cov = crop_coverage([_face([[0.4, 0]])], pipeline, 'train', draws=draws)
    expected = truncnorm.cdf(-0.4, -1, 1)
    assert expected == pytest.approx(0.272, abs=1e-3)
    assert cov.landmarks_out / draws == pytest.approx(expected, abs=0.02)
    # the same seed gives the same count; the global generator is restored
    state = np.random.get_state()[1].copy()
    again = crop_coverage([_face([[0.4, 0]])], pipeline, 'train',
                          draws=draws)
    assert again.landmarks_out == cov.landmarks_out
    np.testing.assert_array_equal(np.random.get_state()[1], state)


def test_codec_zero_weights_only_points_whose_gaussian_is_outside():
    # MSRAHeatmap 64 -> 16 px, sigma 2: a target keeps weight 1 while any
    # of its 3-sigma window (6 heatmap px = 24 input px) is inside. With
    # padding 1 (crop side = box side = 200 px -> 64 px, 3.125 px/input px):
    # 0.55 sides out is 16 input px past the edge (kept), 0.9 sides is
    # 128 input px past it (weight 0).
    pipeline = [dict(type='GetBBoxCenterScale', padding=1.0),
                dict(type='TopdownAffine', input_size=(64, 64)),
                dict(type='GenerateTarget',
                     encoder=dict(type='MSRAHeatmap', input_size=(64, 64),
                                  heatmap_size=(16, 16), sigma=2))]
    cov = crop_coverage([_face([[0.55, 0], [0.9, 0], [0, 0]])], pipeline,
                        'train')
    assert cov.landmarks_out == 2
    assert cov.zero_weight == 1
    table = format_coverage([cov])
    assert '| train | 1 | - | 1 | 1 | 1 (100.00 %) | 2 (66.667 %) | ' \
        '1 (33.333 %) |' in table


def test_geometry_pipeline_and_errors():
    steps = geometry_pipeline(
        [dict(type='LoadImage'), dict(type='GetBBoxCenterScale'),
         dict(type='RandomFlip'), dict(type='mmdet.YOLOXHSVRandomAug'),
         dict(type='TopdownAffine', input_size=(8, 8))], padding=1.6)
    assert [s['type'] for s in steps] == ['GetBBoxCenterScale',
                                          'TopdownAffine']
    assert steps[0]['padding'] == 1.6
    with pytest.raises(ValueError, match='no TopdownAffine'):
        geometry_pipeline([dict(type='GetBBoxCenterScale')])
    with pytest.raises(ValueError, match='draws must be'):
        crop_coverage([_face([[0, 0]])], _test_pipeline(), draws=0)


def test_config_pipelines_include_stage_two():
    teacher = config_pipelines(Config.fromfile(osp.join(CONFIGS,
                                                        'teacher.py')))
    assert [name for name, _ in teacher] == ['test', 'train',
                                             'train (stage 2)']
    student = config_pipelines(Config.fromfile(osp.join(CONFIGS,
                                                        'student.py')))
    assert [name for name, _ in student][:2] == ['test', 'train']
    assert describe_augmentation(student[0][1]) == ''


def test_check_limits_names_the_numbers():
    faces = [_face([[0.7, 0]]), _face([[0, 0]])]
    test = crop_coverage(faces, _test_pipeline(), padding=1.25)
    assert check_limits([test], max_test_faces=60) == []
    (problem, ) = check_limits([test], max_test_faces=0.5)
    assert '1 of 2 faces (50.00 %)' in problem and 'limit 0.5 %' in problem


def test_tool_prints_the_table_and_fails_over_a_limit(tmp_path):
    rows = [format_tsv_row('a.png', _face([[0.7, 0.2], [-0.3, -0.2]],
                                          ).keypoints),
            format_tsv_row('b.png', _face([[0.3, 0.3], [-0.3, -0.3]]
                                          ).keypoints)]
    ann = tmp_path / 'val.tsv'
    ann.write_text('\n'.join(rows) + '\n')
    cmd = [sys.executable, osp.join(REPO_ROOT, 'tools', 'analysis',
                                    'crop_coverage.py'), str(ann), '--config',
           osp.join(CONFIGS, 'student.py'), '--test-only', '--num-keypoints',
           '2', '--paddings', '1.0', '3.0', '--max-test-faces', '10']
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO_ROOT)
    # The rule box of the first face is 0.4 * 1.05 sides (84 px) around its
    # centre and its points lie 100 px left and right of it: padding 1 loses
    # both, padding 3 (252 px) none; the second face's points are 60 px from
    # the centre of a 126 px box: inside at both paddings.
    assert proc.returncode == 1, proc.stderr
    assert '| test | 1 | - | 2 | 2 | 1 (50.00 %) | 2 (50.000 %) | - |' in \
        proc.stdout
    assert '| test | 3 | - | 2 | 2 | 0 (0.00 %) | 0 (0.000 %) | - |' in \
        proc.stdout
    assert 'lines of faces losing a landmark in the test crop: [1]' in \
        proc.stdout
    assert 'padding 1: 1 of 2 faces (50.00 %) lose a landmark' in proc.stderr
