import json

import cv2
import numpy as np

from ivslab_plugin.analysis.report import (
    markdown_table,
    montage,
    plot_ced,
    plot_training,
    read_scalars,
)


def _work_dir(tmp_path, name):
    vis = tmp_path / name / '20260101_000000' / 'vis_data'
    vis.mkdir(parents=True)
    rows = [dict(loss=1.0 / (i + 1), step=i + 1) for i in range(6)]
    rows += [dict(NME_pupil=0.3, step=1), dict(NME_pupil=0.2, step=2)]
    (vis / 'scalars.json').write_text('\n'.join(map(json.dumps, rows)))
    return str(tmp_path / name)


def test_scalars_split_into_train_and_val(tmp_path):
    train, val = read_scalars(_work_dir(tmp_path, 'a'))
    assert len(train) == 6 and [r['NME_pupil'] for r in val] == [0.3, 0.2]


def test_plots_are_written(tmp_path):
    out = plot_training({'a': _work_dir(tmp_path, 'a')},
                        str(tmp_path / 'train.png'))
    assert cv2.imread(out).shape[1] > 500
    faces = tmp_path / 'm_faces.json'
    faces.write_text(json.dumps(dict(faces=[dict(NME_pupil=e) for e in
                                            (0.02, 0.05, 0.2)])))
    out = plot_ced({'m': str(faces)}, str(tmp_path / 'ced.png'))
    assert cv2.imread(out) is not None


def test_montage_tiles_images(tmp_path):
    paths = []
    for i, shape in enumerate([(50, 80), (300, 100), (20, 20)]):
        paths.append(str(tmp_path / f'{i}.png'))
        cv2.imwrite(paths[-1], np.full((*shape, 3), 255, np.uint8))
    out = cv2.imread(montage(paths, str(tmp_path / 'm.png'), cols=2, tile=64))
    assert out.shape == (128, 128, 3)


def test_markdown_table():
    table = markdown_table([dict(model='t', NME=0.12345, n=3),
                            dict(model='s')], ['model', 'NME', 'n'])
    assert table.splitlines() == ['| model | NME | n |', '|---|---|---|',
                                  '| t | 0.1235 | 3 |', '| s | - | - |']
