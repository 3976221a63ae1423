"""tools/run_model.py (challenge submission), tools/demo.py and
tools/deploy.py end to end, as subprocesses."""
import json
import os
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest

from conftest import REPO_ROOT
from ivslab_plugin.datasets import format_tsv_row
from ivslab_plugin.deploy import FaceLandmarkPipeline, build_backend
from ivslab_plugin.deploy.lite.submission import read_image_list, read_submission

pytestmark = pytest.mark.slow


def run_tool(*args: str, expect: int = 0) -> str:
    proc = subprocess.run(
        [sys.executable, *args], cwd=REPO_ROOT, capture_output=True,
        text=True, timeout=600,
        env=dict(os.environ, OMP_NUM_THREADS='1', PYTHONUNBUFFERED='1'))
    assert proc.returncode == expect, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def _check_pts_file(path: str, num_faces: int) -> list:
    """The format note: per face 'version: 1', 'n_points: 51', '{', 51 lines
    'x y', '}'."""
    with open(path) as f:
        lines = f.read().splitlines()
    assert len(lines) == num_faces * 55
    for i in range(num_faces):
        block = lines[55 * i:55 * (i + 1)]
        assert block[:3] == ['version: 1', 'n_points: 51', '{']
        assert block[-1] == '}'
        for row in block[3:-1]:
            x, y = row.split(' ')
            float(x), float(y)
    faces = read_submission(path)
    assert [f.shape for f in faces] == [(51, 2)] * num_faces
    return faces


@pytest.fixture()
def test_images(tmp_path, two_face_image):
    """An image list: the two-face image and a one-face crop of it."""
    path, faces, boxes = two_face_image
    image = cv2.imread(path)
    right = image[:, image.shape[1] // 2:]
    one = str(tmp_path / 'image_0001.jpg')
    cv2.imwrite(one, right, [cv2.IMWRITE_JPEG_QUALITY, 98])
    image_list = tmp_path / 'list.txt'
    # relative to the list file, and absolute
    image_list.write_text(f'image_0001.jpg\n{path}\n\n')
    return str(image_list), path, boxes, one


def test_run_model_with_a_detector(simcc_sdk_export, test_images, tmp_path):
    image_list, two_path, boxes, _ = test_images
    out = str(tmp_path / 'out')
    log = run_tool('tools/run_model.py', image_list, out, '--model',
                   simcc_sdk_export.work_dir)
    assert 'wrote 2 files' in log
    assert sorted(os.listdir(out)) == ['image_0001.txt', 'image_0002.txt']
    faces = _check_pts_file(osp.join(out, 'image_0002.txt'), 2)
    # right-most face first
    assert faces[0][:, 0].mean() > faces[1][:, 0].mean()
    centres = (boxes[:, 0] + boxes[:, 2]) / 2
    assert abs(faces[0][:, 0].mean() - centres[1]) < \
        abs(faces[0][:, 0].mean() - centres[0])
    _check_pts_file(osp.join(out, 'image_0001.txt'), 1)


def test_run_model_with_tsv_boxes(simcc_sdk_export, test_images, tmp_path):
    """``--tsv test_q.tsv``: the files hold exactly the landmarks of the
    pipeline given those boxes (68 dummy points in the landmark columns)."""
    image_list, two_path, boxes, one_path = test_images
    rows = []
    for box in boxes:
        dummy = np.tile((box[:2] + box[2:]) / 2, (68, 1)).astype(np.float32)
        row = format_tsv_row(osp.basename(two_path), dummy).split('\t')
        side = box[2] - box[0]
        row[3:6] = [f'{side / 200:.6f}', f'{(box[0] + box[2]) / 2:.3f}',
                    f'{(box[1] + box[3]) / 2:.3f}']
        rows.append('\t'.join(row))
    h, w = cv2.imread(one_path).shape[:2]
    rows.append('\t'.join([osp.basename(one_path), '0,0', '0,0',
                           f'{w / 2 / 200:.6f}', f'{w / 2:.3f}',
                           f'{h / 2:.3f}']).replace(
                               '0,0', ','.join(['1.0'] * 136)))
    tsv = tmp_path / 'test_q.tsv'
    tsv.write_text('\n'.join(rows) + '\n')
    out = str(tmp_path / 'out')
    run_tool('tools/run_model.py', image_list, out, '--model',
             simcc_sdk_export.backend_files[0], '--tsv', str(tsv),
             '--image-root', osp.dirname(two_path))
    faces = _check_pts_file(osp.join(out, 'image_0002.txt'), 2)

    pipeline = FaceLandmarkPipeline(
        build_backend(simcc_sdk_export.backend_files[0]))
    expected = pipeline(two_path, boxes)  # right-most first, as written
    assert expected[0].face_box[0] > expected[1].face_box[0]
    np.testing.assert_allclose(faces[0], expected[0].keypoints, atol=2e-3)
    np.testing.assert_allclose(faces[1], expected[1].keypoints, atol=2e-3)
    _check_pts_file(osp.join(out, 'image_0001.txt'), 1)



def test_image_list_errors(tmp_path, two_face_image, simcc_sdk_export):
    # a missing image is reported when it is reached; the others are written
    missing = tmp_path / 'missing.txt'
    missing.write_text(f'\nnope.png\n{two_face_image[0]}\n')
    assert read_image_list(str(missing))[0] == str(tmp_path / 'nope.png')
    out = tmp_path / 'out'
    proc = subprocess.run(
        [sys.executable, 'tools/run_model.py', str(missing), str(out),
         '--model', simcc_sdk_export.work_dir, '--haar'], cwd=REPO_ROOT,
        capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f'{tmp_path / "nope.png"}: image not found' in proc.stdout + proc.stderr
    assert sorted(os.listdir(out)) == ['image_0002.txt']
    dupes = tmp_path / 'dupes.txt'
    dupes.write_text(f'{two_face_image[0]}\n{two_face_image[0]}\n')
    with pytest.raises(ValueError, match='share the id'):
        read_image_list(str(dupes))
    empty = tmp_path / 'empty.txt'
    empty.write_text('\n')
    with pytest.raises(ValueError, match='empty'):
        read_image_list(str(empty))


def test_demo_on_images_and_a_video(tiny_models, two_face_image, tmp_path):
    cfg, ckpt = tiny_models['simcc']
    path, _, _ = two_face_image
    image = cv2.imread(path)
    folder = tmp_path / 'in'
    folder.mkdir()
    cv2.imwrite(str(folder / 'faces.png'), image)
    cv2.imwrite(str(folder / 'grey.png'), cv2.cvtColor(image,
                                                       cv2.COLOR_BGR2GRAY))
    cv2.imwrite(str(folder / 'blank.png'), np.full((12, 16, 3), 90, np.uint8))
    out = tmp_path / 'out'
    log = run_tool('tools/demo.py', str(folder), '--out-dir', str(out),
                   '--model', ckpt, '--config', cfg)
    assert 'no face found in' in log and 'blank.png' in log
    results = json.loads((out / 'results.json').read_text())
    assert {k: len(v) for k, v in results.items()} == {
        'blank.png': 0, 'faces.png': 2, 'grey.png': 2}
    face = results['faces.png'][0]
    assert len(face['keypoints']) == 51 and len(face['box']) == 4
    drawn = cv2.imread(str(out / 'faces.png'))
    assert drawn.shape == image.shape
    assert (drawn != image).any()  # something was drawn
    blank = cv2.imread(str(out / 'blank.png'))
    assert blank.shape == (12, 16, 3)

    video = str(tmp_path / 'clip.avi')
    writer = cv2.VideoWriter(video, cv2.VideoWriter_fourcc(*'MJPG'), 5,
                             image.shape[1::-1])
    for shift in (0, 2, 4):
        writer.write(np.roll(image, shift, axis=1))
    writer.release()
    run_tool('tools/demo.py', video, '--out-dir', str(out / 'video'),
             '--model', ckpt, '--config', cfg)
    frames = json.loads((out / 'video' / 'results.json').read_text())
    assert [len(f) for f in frames['clip.avi']] == [2, 2, 2]
    cap = cv2.VideoCapture(str(out / 'video' / 'clip.mp4'))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 3
    cap.release()

    log = run_tool('tools/demo.py', str(tmp_path / 'nothing.png'),
                   '--out-dir', str(out), '--model', ckpt, '--config', cfg,
                   expect=1)
    assert 'input not found' in log


def test_deploy_tool(tiny_models, tmp_path):
    cfg, ckpt = tiny_models['heatmap']
    # the model file passes; the SDK, on this barely trained model's flat
    # heatmaps, misses its gate (p99 1 px, max 10 px), so the tool exits 1
    log = run_tool('tools/deploy.py', cfg, ckpt, '--work-dir',
                   str(tmp_path / 'sdk'), '--sdk', '--num-faces', '4', expect=1)
    assert 'parity onnxruntime vs pytorch on 4 faces' in log
    assert 'parity sdk vs pytorch' in log
    assert log.count('PASSED') == 1 and log.count('FAILED') == 1
    assert osp.isfile(str(tmp_path / 'sdk' / 'run_model.py'))  # the bundle
    # an impossible tolerance makes it fail with a non-zero exit
    log = run_tool('tools/deploy.py', cfg, ckpt, '--work-dir',
                   str(tmp_path / 'ort'), '--raw-tol', '0', '--num-faces',
                   '2', expect=1)
    assert 'FAILED' in log


def test_run_model_multi_face_images(simcc_sdk_export, two_face_image, tmp_path):
    """``--tsv`` with ``--multi-face``: an image listed in test_q.txt whose TSV
    row boxes one face gets the detector's other face too, right-most first;
    the TSV's face keeps its box."""
    path, _, boxes = two_face_image  # image_0002.png, Haar finds both faces
    left = int(np.argmin(boxes[:, 0]))
    box = boxes[left]
    dummy = np.tile((box[:2] + box[2:]) / 2, (51, 1)).astype(np.float32)
    row = format_tsv_row(osp.basename(path), dummy).split('\t')
    side = box[2] - box[0]
    row[3:6] = [f'{side / 200:.6f}', f'{(box[0] + box[2]) / 2:.3f}',
                f'{(box[1] + box[3]) / 2:.3f}']
    (tmp_path / 'test_q.tsv').write_text('\t'.join(row) + '\n')
    (tmp_path / 'test_q.txt').write_text('0002\n')
    (tmp_path / 'list.txt').write_text(path + '\n')
    common = ['tools/run_model.py', str(tmp_path / 'list.txt'), '--model',
              simcc_sdk_export.backend_files[0], '--tsv', str(tmp_path / 'test_q.tsv'),
              '--image-root', osp.dirname(path), '--haar']
    run_tool(*common[:2], str(tmp_path / 'one'), *common[2:])
    assert len(read_submission(str(tmp_path / 'one' / 'image_0002.txt'))) == 1
    run_tool(*common[:2], str(tmp_path / 'two'), *common[2:],
             '--multi-face', str(tmp_path / 'test_q.txt'))
    faces = read_submission(str(tmp_path / 'two' / 'image_0002.txt'))
    assert len(faces) == 2
    assert faces[0][:, 0].mean() > faces[1][:, 0].mean()  # right-most first
    pipeline = FaceLandmarkPipeline(build_backend(simcc_sdk_export.backend_files[0]))
    given = pipeline(path, box[None])[0].keypoints  # the TSV's (left) face
    np.testing.assert_allclose(faces[1], given, atol=2e-3)
