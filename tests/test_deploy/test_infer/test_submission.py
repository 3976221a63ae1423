"""The challenge's list of images holding more faces than their rows
(``test_q.txt``), read and matched to an annotation file's images."""
import numpy as np
import pytest

from ivslab_plugin.datasets import AnnotationError, LandmarkRecord
from ivslab_plugin.deploy.infer.submission import multi_face_images, read_multi_face_ids


def test_multi_face_ids(tmp_path):
    path = tmp_path / 'test_q.txt'
    path.write_text('image_0003.png 2\n\nimage_0010\n')
    assert read_multi_face_ids(str(path)) == {'image_0003': 2,
                                              'image_0010': 0}
    path.write_text('image_0003.png two\n')
    with pytest.raises(AnnotationError, match=':1: face count'):
        read_multi_face_ids(str(path))


def test_multi_face_ids_match_images_by_number(tmp_path):
    # the organisers' test_q.txt lists bare numbers, without a final newline
    records = [LandmarkRecord(i + 1, f'/x/image_{n}.png', np.zeros((51, 2)),
                              1.0, np.zeros(2))
               for i, n in enumerate(['0003', '0010', '0011'])]
    path = tmp_path / 'test_q.txt'
    path.write_text('0003\nimage_0011\n10')
    assert multi_face_images(str(path), records) == {
        'image_0003': 0, 'image_0011': 0, 'image_0010': 0}
    path.write_text('0003\n0004\n')
    with pytest.raises(AnnotationError, match="'0004' names 0 images"):
        multi_face_images(str(path), records)
