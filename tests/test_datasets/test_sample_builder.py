import os.path as osp
import zipfile

import cv2
import matplotlib
import numpy as np
import pytest

from ivslab_plugin.datasets import read_landmark_tsv
from ivslab_plugin.datasets.sample_builder import (
    SOURCES,
    DlibLabeller,
    Source,
    build_sample_dataset,
)

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


def _write_video(path, image, frames):
    """An mp4 of ``frames`` copies of ``image``, shifted a pixel a frame."""
    h, w = image.shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), 10, (w, h))
    for i in range(frames):
        writer.write(np.roll(image, i, axis=1))
    writer.release()


def test_unlabelled_pool_takes_only_frames_outside_train_and_test(tmp_path, labeller):
    image = cv2.resize(cv2.imread(GRACE), (256, 300))
    clips = tmp_path / 'clips'
    clips.mkdir()
    _write_video(clips / 'main.mp4', image, 20)
    _write_video(clips / 'other.mp4', image, 10)
    cache = tmp_path / 'cache'
    cache.mkdir()
    with zipfile.ZipFile(cache / 'clips-1.0-py3-none-any.whl', 'w') as z:
        z.write(clips / 'main.mp4', 'media/main.mp4')
        z.write(clips / 'other.mp4', 'media/other.mp4')
    source = Source('clips', 'pypi', 'clips==1.0', (), 'test',
                                  video='media/main.mp4',
                                  unlabelled_videos=('media/other.mp4', ))
    out = tmp_path / 'sample'
    report = build_sample_dataset(str(out), [source], cache_dir=str(cache),
                                  video_step=10, test_video_fraction=0.2,
                                  labeller=labeller, progress=False,
                                  unlabelled_step=5)
    ann = out / 'annotations/ivslab'
    paths = {name: [line.split('\t')[0] for line in (ann / f'{name}.tsv').read_text().splitlines()]
             for name in ('train', 'test', 'unlabelled')}
    # labelled frames 0 and 10 (train; 16+ is the test part, no 10-step frame
    # there); the pool: main frames 5 and 15 (not 0/10, not in the test part)
    # and other-video frames 0 and 5
    assert paths['train'] == ['clips/main_00000.jpg', 'clips/main_00010.jpg']
    assert paths['test'] == []
    assert paths['unlabelled'] == ['clips/unlabelled/main_00005.jpg',
                                   'clips/unlabelled/main_00015.jpg',
                                   'clips/unlabelled/other_00000.jpg',
                                   'clips/unlabelled/other_00005.jpg']
    assert (report.train_faces, report.test_faces, report.unlabelled_faces) == (2, 0, 4)
    # boxes only: the landmark columns are zeros, the box is the face's
    raw = read_landmark_tsv(str(ann / 'unlabelled.tsv'), 51, image_root=str(out / 'images'))
    assert all(not r.keypoints.any() for r in raw)
    boxed = read_landmark_tsv(str(ann / 'unlabelled.tsv'), 51,
                              image_root=str(out / 'images'), labelled=False)
    # (labelled before the JPEG was written, hence the pixel tolerance)
    (face, ) = labeller(cv2.imread(str(out / 'images' / paths['unlabelled'][2])))
    x0, y0 = face.min(0)
    x1, y1 = face.max(0)
    np.testing.assert_allclose(boxed[2].center, [(x0 + x1) / 2, (y0 + y1) / 2], atol=2)
    assert abs(boxed[2].scale * 200 - min(x1 - x0, y1 - y0) * 1.05) < 4
    assert 'unlabelled pool' in (out / 'SOURCES.md').read_text()
