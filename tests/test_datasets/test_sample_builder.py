import os.path as osp
import zipfile

import cv2
import matplotlib
import numpy as np
import pytest

from ivslab_plugin.datasets import read_landmark_tsv
from ivslab_plugin.datasets.sample_builder import SOURCES, DlibLabeller, build_sample_dataset

GRACE = osp.join(osp.dirname(matplotlib.__file__), 'mpl-data', 'sample_data',
                 'grace_hopper.jpg')


@pytest.fixture(scope='module')
def labeller():
    return DlibLabeller()


def test_dlib_labels_a_real_face_in_51_point_order(labeller):
    image = cv2.imread(GRACE)
    (face, ) = labeller(image)
    assert face.shape == (51, 2)
    h, w = image.shape[:2]
    assert (face >= 0).all() and (face[:, 0] < w).all() and (face[:, 1] < h).all()
    right_eye, left_eye = face[19:25].mean(0), face[25:31].mean(0)
    # subject's right eye is on the image left; brows above eyes above the
    # nose tip above the mouth
    assert right_eye[0] < left_eye[0]
    assert face[0:10, 1].mean() < right_eye[1] < face[16, 1] < face[31:43, 1].mean()


def test_build_writes_a_readable_dataset(tmp_path, labeller):
    source = next(s for s in SOURCES if s.name == 'matplotlib')
    cache = tmp_path / 'cache'
    cache.mkdir()
    # a local stand-in for the registry download, so the test is offline
    with zipfile.ZipFile(cache / 'matplotlib-3.9.2-py3-none-any.whl', 'w') as z:
        z.write(GRACE, source.members[0])
    out = tmp_path / 'sample'
    report = build_sample_dataset(str(out), [source], cache_dir=str(cache),
                                  test_every=1, labeller=labeller,
                                  progress=False)
    assert (report.train_faces, report.test_faces) == (0, 1)
    records = read_landmark_tsv(str(out / 'annotations/ivslab/test.tsv'), 51,
                                image_root=str(out / 'images'))
    assert len(records) == 1
    np.testing.assert_allclose(records[0].keypoints,
                               labeller(cv2.imread(GRACE))[0], atol=1e-3)
    assert 'pseudo-labels' in (out / 'SOURCES.md').read_text()
