"""Agreement of models' landmarks with a reference model and the labels."""
import os.path as osp

import numpy as np
import pytest

from conftest import run_tool
from ivslab_plugin.analysis.agreement import (
    agreement,
    nme_against,
    parse_models,
    predict_landmarks,
    select_records,
)
from ivslab_plugin.datasets.tsv import read_landmark_tsv
from ivslab_plugin.evaluation.face_metric import NORMALISERS

PUPIL = NORMALISERS['ivslab']['pupil']


def _val_records(synthetic_data):
    root = synthetic_data['root']
    path = osp.join(root, 'annotations/ivslab/test.tsv')
    return path, read_landmark_tsv(path, 51, image_root=osp.join(root, 'images'))


def test_nme_against_is_shift_over_reference_pupil_distance():
    rng = np.random.default_rng(0)
    ref = rng.uniform(0, 100, (3, 51, 2))
    shifted = ref + np.array([3.0, 4.0])  # every point 5 px away
    expected = (5.0 / _pupil_distance(ref)).mean()
    assert nme_against(shifted, ref, PUPIL) == pytest.approx(expected)
    assert nme_against(ref, ref, PUPIL) == 0.0


def _pupil_distance(kpts: np.ndarray) -> np.ndarray:
    left = kpts[:, 19:25].mean(axis=1)
    right = kpts[:, 25:31].mean(axis=1)
    return np.linalg.norm(left - right, axis=-1)


def test_select_records_filters_and_names_the_file(synthetic_data):
    path, records = _val_records(synthetic_data)
    assert len(select_records(records, path, every=3)) == len(records[::3])
    name = osp.basename(records[1].image_path)
    assert [r.image_path for r in select_records(records, path, contains=name)] == \
        [r.image_path for r in records if name in r.image_path]
    with pytest.raises(ValueError, match='test.tsv.*no rows'):
        select_records(records, path, contains='no-such-image')
    with pytest.raises(ValueError, match='unique'):
        parse_models([['a', 'x.py', 'x.pth'], ['a', 'y.py', 'y.pth']])


def test_agreement_of_real_models(synthetic_data, tiny_models):
    path, records = _val_records(synthetic_data)
    preds = {kind: predict_landmarks(cfg, ckpt, records)
             for kind, (cfg, ckpt) in tiny_models.items()}
    assert preds['heatmap'].shape == (len(records), 51, 2)
    labels = np.stack([r.keypoints for r in records])
    rows = agreement({'ref': preds['heatmap'], 'other': preds['simcc'],
                      'same': preds['heatmap'].copy()}, PUPIL, labels)
    assert list(rows) == ['ref', 'other', 'same']
    assert rows['ref']['ref'] == 0.0 and rows['same']['ref'] == 0.0
    assert rows['other']['ref'] > 0.0
    assert rows['same']['GT'] == rows['ref']['GT'] == \
        pytest.approx(nme_against(preds['heatmap'], labels, PUPIL))
    # without labels there is no GT column
    assert list(agreement(preds, PUPIL)['simcc']) == ['simcc']


@pytest.mark.slow
def test_kd_agreement_tool(synthetic_data, tiny_models):
    (hcfg, hckpt), (scfg, sckpt) = tiny_models['heatmap'], tiny_models['simcc']
    out = run_tool('tools/analysis/kd_agreement.py', 'annotations/ivslab/test.tsv',
                   '--data-root', synthetic_data['root'], '--unlabelled', '--every', '2',
                   '--model', 'teacher', scfg, sckpt, '--model', 'student', hcfg, hckpt)
    n = len(_val_records(synthetic_data)[1][::2])
    assert f'| model ({n} faces) | NME vs teacher |' in out
    assert '| teacher | 0.0000 |' in out
    line = next(ln for ln in out.splitlines() if ln.startswith('| student |'))
    assert float(line.split('|')[2]) > 0
