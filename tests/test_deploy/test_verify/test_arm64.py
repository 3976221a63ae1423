"""The LiteRT INT8 bundle of the shipped student on emulated aarch64 CPUs
(qemu-user) against this machine: ``tools/arm64_check.py``'s check. The
emulated device is built by the install step (``IVSLAB_ARM64=1``, as CI
does); without it the test skips and says how to build it."""
import os.path as osp

import cv2
import numpy as np
import pytest
from test_deploy.deploy_fixtures import GRACE_HOPPER

from ivslab_plugin.deploy.convert.registry import export_runtime, missing_packages
from ivslab_plugin.deploy.lite.landmarker import Landmarker
from ivslab_plugin.deploy.verify.arm64 import CPUS, Arm64Device, check_bundle


@pytest.fixture(scope='module')
def arm64_device():
    try:
        return Arm64Device.find()
    except FileNotFoundError as err:
        pytest.skip(str(err))


def test_int8_bundle_on_emulated_arm64(arm64_device, shipped_student, synthetic_data,
                                       two_face_image, tmp_path):
    from ivslab_plugin.deploy.data import calibration_crops
    if missing_packages('tflite-int8'):
        pytest.skip('the LiteRT converter is an optional extra')
    cfg, ckpt = shipped_student
    crops = calibration_crops(cfg, synthetic_data['root'], num=16)
    path = export_runtime('tflite-int8', cfg, ckpt, str(tmp_path / 'bundle'), crops)
    bundle = osp.dirname(path)
    images = [GRACE_HOPPER, two_face_image[0]]
    listing = tmp_path / 'list.txt'
    listing.write_text('\n'.join(images) + '\n')
    # given boxes: this machine's detector's face boxes, as a TSV
    lm = Landmarker.from_bundle(bundle, 1, log=lambda *a: None)
    rows = []
    for image in images:
        for x0, y0, x1, y1 in lm.detector.face_boxes(lm.detector(cv2.imread(image))[0]):
            rows.append('\t'.join([image, '0 0', '0 0', f'{(x1 - x0) / 200:.6f}',
                                   f'{(x0 + x1) / 2:.3f}', f'{(y0 + y1) / 2:.3f}']))
    assert rows, 'no face found here'
    tsv = tmp_path / 'boxes.tsv'
    tsv.write_text('\n'.join(rows) + '\n')
    results = check_bundle(bundle, str(listing), str(tmp_path / 'out'), list(CPUS),
                           str(tsv), arm64_device)
    assert len(results) == 2 * len(CPUS)
    for r in results:
        # the same faces in the same files, with the bundle's detector too
        assert not r.error and not r.count_differs, (r.cpu, r.boxes, r.error, r.count_differs)
        assert r.files == 2 and r.faces >= 1
        if r.boxes == 'given boxes':
            # equal crops: the INT8 network and the decoding give the same
            # numbers on every CPU
            assert r.max_px <= 0.05, (r.cpu, r.max_px)
    assert np.isfinite([r.max_px for r in results]).all()


def test_missing_device_and_bad_box_tsv_say_what_is_wrong(tmp_path):
    from ivslab_plugin.deploy.lite.submission import read_box_tsv
    with pytest.raises(FileNotFoundError, match=r'qemu-aarch64: .*tools/install_arm64.sh'):
        Arm64Device.find(str(tmp_path / 'none'))
    tsv = tmp_path / 'boxes.tsv'
    tsv.write_text('a/img_1.png\t0 0\t0 0\t0.5\t100\t120\n'
                   'b/img_1.png\t0 0\t0 0\t0.25\t300\t80\n')
    boxes = read_box_tsv(str(tsv)).boxes
    # rows of one image id gather; scale is in units of 200 px
    np.testing.assert_allclose(boxes['img_1'], [[50, 70, 150, 170], [275, 55, 325, 105]])
    tsv.write_text('a.png\t0 0\t0 0\t0.5\t100\t120\nb.png\t0 0\t0.5\t100\n')
    with pytest.raises(ValueError, match=r'boxes.tsv:2: expected 6 tab-separated columns, got 4'):
        read_box_tsv(str(tsv))
    tsv.write_text('a.png\t0 0\t0 0\t-1\t100\t120\n')
    with pytest.raises(ValueError, match=r'boxes.tsv:1: scale must be positive'):
        read_box_tsv(str(tsv))
