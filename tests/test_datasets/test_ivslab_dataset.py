import numpy as np
import pytest
from mmpose.registry import DATASETS

from ivslab_plugin.datasets import AnnotationError, read_landmark_tsv


def _build(root, ann='annotations/ivslab/train.tsv', **kwargs):
    return DATASETS.build(
        dict(type='IvslabFaceDataset', data_root=root, ann_file=ann,
             data_prefix=dict(img='images/'), **kwargs))


def test_one_sample_per_row_with_box_and_keypoints(synthetic_data):
    ds = _build(synthetic_data['root'])
    records = read_landmark_tsv(
        synthetic_data['train'], 51,
        image_root=synthetic_data['root'] + '/images')
    assert len(ds) == len(records) == 24
    assert ds.metainfo['dataset_name'] == 'ivslab'
    assert ds.metainfo['num_keypoints'] == 51
    first = ds.get_data_info(0)
    rel, (kpts, ) = next(iter(synthetic_data['faces'].items()))
    assert first['img_path'].endswith(rel)
    np.testing.assert_allclose(first['keypoints'][0], kpts, atol=1e-3)
    assert first['keypoints_visible'].shape == (1, 51)
    assert first['keypoints_visible'].all()
    np.testing.assert_allclose(first['bbox'][0], records[0].bbox)
    assert first['ann_line'] == 1


def test_flip_indices_from_the_format_note(synthetic_data):
    flip = _build(synthetic_data['root']).metainfo['flip_indices']
    pairs = [[0, 9], [1, 8], [2, 7], [3, 6], [4, 5], [19, 28], [20, 27],
             [21, 26], [22, 25], [23, 30], [24, 29], [14, 18], [15, 17],
             [31, 37], [32, 36], [33, 35], [38, 42], [39, 41], [43, 47],
             [44, 46], [48, 50]]
    expected = list(range(51))
    for a, b in pairs:
        expected[a], expected[b] = b, a
    assert flip == expected


def test_pipeline_produces_inputs(synthetic_data):
    ds = _build(
        synthetic_data['root'],
        pipeline=[
            dict(type='LoadImage'),
            dict(type='GetBBoxCenterScale', padding=1.25),
            dict(type='TopdownAffine', input_size=(64, 64)),
            dict(type='PackPoseInputs')
        ])
    item = ds[0]
    assert tuple(item['inputs'].shape) == (3, 64, 64)


def test_unlabelled_rows_are_all_kept(synthetic_data):
    ds = _build(synthetic_data['root'], labelled=False)
    assert len(ds) == 24
    info = ds.get_data_info(3)
    assert not info['keypoints_visible'].any()


def test_bad_row_is_reported_at_build(synthetic_data, tmp_path):
    lines = open(synthetic_data['train']).read().splitlines()
    lines[4] = lines[4].replace('\t', '\tx', 1)
    bad = tmp_path / 'bad.tsv'
    bad.write_text('\n'.join(lines) + '\n')
    with pytest.raises(AnnotationError, match=f'{bad}:5: non-numeric'):
        _build(synthetic_data['root'], ann=str(bad))


@pytest.mark.parametrize('metainfo, n', [('300w.py', 68), ('wflw.py', 98),
                                         ('cofw.py', 29)])
def test_other_markups_by_metainfo(tmp_path, metainfo, n):
    import cv2
    (tmp_path / 'images').mkdir()
    cv2.imwrite(str(tmp_path / 'images' / 'x.jpg'),
                np.zeros((50, 50, 3), np.uint8))
    coords = ','.join(['5'] * (2 * n))
    extra = '\t1\t0' if n == 98 else ''
    (tmp_path / 'ann.tsv').write_text(
        f'x.jpg\t1,2\t{coords}\t0.2\t25\t25{extra}\n')
    ds = _build(str(tmp_path), ann='ann.tsv',
                metainfo=dict(from_file=metainfo),
                allow_extra_columns=(n == 98))
    assert len(ds) == 1
    assert ds.get_data_info(0)['keypoints'].shape == (1, n, 2)
