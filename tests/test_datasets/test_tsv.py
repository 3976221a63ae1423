import os.path as osp

import cv2
import numpy as np
import pytest

from ivslab_plugin.datasets import (
    AnnotationError,
    box_from_landmarks,
    convert_pts_folders,
    read_landmark_tsv,
    read_pts,
    resolve_image_path,
    to_51_points,
)
from ivslab_plugin.deploy.lite.submission import format_pts


def _pts(n, offset=0.0):
    return np.stack([np.arange(n) + 10.0 + offset,
                     np.arange(n) * 0.5 + 20.0], axis=1).astype(np.float32)


def _row(image='a.png', n=51, scale='0.5', cx='40', cy='30', extra=()):
    coords = ','.join(f'{v:g}' for v in _pts(n).reshape(-1))
    return '\t'.join([image, coords, coords, scale, cx, cy, *extra])


@pytest.fixture
def image_root(tmp_path):
    root = tmp_path / 'images'
    root.mkdir()
    cv2.imwrite(str(root / 'a.png'), np.zeros((64, 80, 3), np.uint8))
    (root / 'sub').mkdir()
    cv2.imwrite(str(root / 'sub' / 'b.png'), np.zeros((64, 80, 3), np.uint8))
    (root / 'broken.png').write_bytes(b'not an image at all')
    return root


def _write(tmp_path, lines, name='ann.tsv'):
    path = tmp_path / name
    path.write_text('\n'.join(lines) + '\n')
    return str(path)


def test_first_line_is_a_face_and_box_from_scale(tmp_path, image_root):
    path = _write(tmp_path, [_row(), _row(image='sub/b.png', scale='1.0',
                                          cx='100', cy='50')])
    records = read_landmark_tsv(path, 51, image_root=str(image_root))
    assert [r.line_no for r in records] == [1, 2]
    np.testing.assert_allclose(records[0].keypoints, _pts(51))
    # box = square of side scale * 200 around the centre
    np.testing.assert_allclose(records[0].bbox, [-10, -20, 90, 80])
    np.testing.assert_allclose(records[1].bbox, [0, -50, 200, 150])
    assert records[1].image_path == osp.join(str(image_root), 'sub', 'b.png')


def test_image_path_resolution(tmp_path, image_root):
    target = str(image_root / 'sub' / 'b.png')
    assert resolve_image_path(target, None) == target
    # a foreign absolute path resolves by its trailing components
    assert resolve_image_path('/home/someone/data/sub/b.png',
                              str(image_root)) == osp.join(
                                  str(image_root), 'sub', 'b.png')
    assert resolve_image_path('/elsewhere/missing.png', str(image_root)) == ''


@pytest.mark.parametrize('lines, line_no, problem', [
    ([_row(), _row().replace('\t0.5\t', '\t0.5\t1\t')], 2, 'columns'),
    ([_row(), _row()[:-3]], 2, 'columns'),
    ([_row(), _row(scale='abc')], 2, "non-numeric value 'abc'"),
    ([_row().replace('10,20', '10,x20', 1)], 1, "non-numeric value 'x20'"),
    ([_row(n=50)], 1, 'expected 51 points'),
    ([_row().replace('10,20', 'nan,20', 1)], 1, 'non-finite'),
    ([_row(), _row(cx='inf')], 2, 'non-finite'),
    ([_row(scale='0')], 1, 'scale must be positive'),
    ([_row(scale='-1.5')], 1, 'scale must be positive'),
    ([_row(), _row(image='missing.png')], 2, 'image file not found'),
    ([_row(image='broken.png')], 1, 'unreadable image'),
    (['image_path\tlandmarks\tlandmarks\tscale\tcenter_w\tcenter_h', _row()],
     1, 'header'),
    ([_row(), '', _row()], 2, 'empty line'),
])
def test_malformed_rows_name_file_and_line(tmp_path, image_root, lines,
                                           line_no, problem):
    path = _write(tmp_path, lines)
    with pytest.raises(AnnotationError) as err:
        read_landmark_tsv(path, 51, image_root=str(image_root))
    assert err.value.path == path
    assert err.value.line_no == line_no
    assert problem in str(err.value)
    assert f'{path}:{line_no}:' in str(err.value)


def test_empty_and_missing_files(tmp_path):
    empty = tmp_path / 'empty.tsv'
    empty.write_text('')
    with pytest.raises(AnnotationError, match='empty annotation file') as err:
        read_landmark_tsv(str(empty), 51)
    assert str(empty) in str(err.value)
    with pytest.raises(AnnotationError, match='not found'):
        read_landmark_tsv(str(tmp_path / 'nope.tsv'), 51)


def test_extra_columns_only_when_allowed(tmp_path, image_root):
    path = _write(tmp_path, [_row(n=98, extra=('0', '1', '0'))])
    with pytest.raises(AnnotationError, match='columns'):
        read_landmark_tsv(path, 98, image_root=str(image_root))
    (rec, ) = read_landmark_tsv(path, 98, image_root=str(image_root),
                                allow_extra_columns=True)
    assert rec.keypoints.shape == (98, 2)


def _q_row(points, scale, cx, cy, image='a.png'):
    coords = ','.join(f'{v:g}' for v in np.asarray(points).reshape(-1))
    return '\t'.join([image, coords, coords, f'{scale:.6f}', f'{cx:g}',
                      f'{cy:g}'])


def test_unlabelled_test_q_rows_take_the_51_point_box(tmp_path, image_root):
    # test_q.tsv: 68 dummy points whose box columns follow the rule over all
    # 68 (jaw included); the face box is the rule over points 17-67.
    pts = np.concatenate([[[0, 40], [100, 140]], _pts(66, offset=20)])
    scale68, center68 = box_from_landmarks(pts)
    path = _write(tmp_path, [_q_row(pts, scale68, *center68)])
    with pytest.raises(AnnotationError, match='expected 51 points'):
        read_landmark_tsv(path, 51, image_root=str(image_root))
    (rec, ) = read_landmark_tsv(path, 51, image_root=str(image_root),
                                labelled=False)
    assert rec.keypoints.shape == (51, 2) and not rec.keypoints.any()
    assert rec.box_source == 'landmarks51'
    # points 17-67: x 45..95, y 27.5..52.5 -> side 25 * 1.05 around (70, 40)
    np.testing.assert_allclose(rec.center, [70, 40])
    assert rec.scale == pytest.approx(25 * 1.05 / 200)


def test_unlabelled_rows_whose_points_miss_their_box(tmp_path, image_root):
    # The organisers' file repeats the previous row's points on 236 rows: the
    # box columns are then converted from the 68- to the 51-point convention.
    pts = np.concatenate([[[0, 40], [100, 140]], _pts(66, offset=20)])
    path = _write(tmp_path, [_q_row(pts, 0.4, 50, 60)])
    with pytest.warns(UserWarning, match=r'1 of 1 rows .* \(lines 1\)'):
        (rec, ) = read_landmark_tsv(path, 51, image_root=str(image_root),
                                    labelled=False)
    assert rec.box_source == 'columns68'
    assert rec.scale == pytest.approx(0.4 * 0.75)
    np.testing.assert_allclose(rec.center, [50, 60 - 0.10 * 80])


def test_unlabelled_rows_without_point_information(tmp_path, image_root):
    # zeros (format_tsv_row(labelled=False)) or points all in one place:
    # the box columns as written
    for points in (np.zeros((68, 2)), np.ones((68, 2)), _pts(51)):
        path = _write(tmp_path, [_q_row(points, 0.4, 50, 60)])
        (rec, ) = read_landmark_tsv(path, 51, image_root=str(image_root),
                                    labelled=False)
        assert rec.box_source == 'columns'
        np.testing.assert_allclose(rec.bbox, [10, 20, 90, 100])


def test_box_from_landmarks_matches_the_seed():
    kpts = np.array([[10, 20], [110, 20], [60, 70]], dtype=np.float32)
    scale, center = box_from_landmarks(kpts)
    assert scale == pytest.approx(min(100, 50) / 200 * 1.05)
    np.testing.assert_allclose(center, [60, 45])


def test_pts_roundtrip_and_errors(tmp_path):
    kpts = _pts(68)
    path = tmp_path / 'face.pts'
    path.write_text(format_pts(kpts))
    np.testing.assert_allclose(read_pts(str(path)), kpts, atol=1e-3)
    np.testing.assert_allclose(to_51_points(kpts), kpts[17:])
    bad = tmp_path / 'bad.pts'
    bad.write_text('version: 1\nn_points: 3\n{\n1 2\n3 4\n}\n')
    with pytest.raises(AnnotationError, match='n_points is 3'):
        read_pts(str(bad))
    bad.write_text('version: 1\nn_points: 1\n{\n1 y\n}\n')
    with pytest.raises(AnnotationError, match=f'{bad}:4: non-numeric'):
        read_pts(str(bad))


def test_convert_pts_folders(tmp_path):
    for split, n in (('300W', 68), ('afw', 51)):
        (tmp_path / split / 'images').mkdir(parents=True)
        (tmp_path / split / 'labels').mkdir()
        cv2.imwrite(str(tmp_path / split / 'images' / 'x.png'),
                    np.zeros((10, 10, 3), np.uint8))
        (tmp_path / split / 'labels' / 'x.pts').write_text(
            format_pts(_pts(n)))
    rows = convert_pts_folders([str(tmp_path / '300W'), str(tmp_path / 'afw')],
                               root=str(tmp_path))
    assert len(rows) == 2
    assert rows[0].split('\t')[0] == osp.join('300W', 'images', 'x.png')
    out = tmp_path / 'train.tsv'
    out.write_text('\n'.join(rows) + '\n')
    records = read_landmark_tsv(str(out), 51, image_root=str(tmp_path))
    # 68 -> 51 drops the 17 jaw points
    np.testing.assert_allclose(records[0].keypoints, _pts(68)[17:], atol=1e-3)
    np.testing.assert_allclose(records[1].keypoints, _pts(51), atol=1e-3)
    scale, center = box_from_landmarks(_pts(51))
    assert records[1].scale == pytest.approx(scale, rel=1e-5)
