"""The device code (``ivslab_plugin.deploy.lite``) against MMPose, and the
exported bundle run where PyTorch and the OpenMMLab stack cannot import."""
import glob
import json
import os
import os.path as osp
import re
import subprocess
import sys

import cv2
import numpy as np
import pytest
from test_deploy.deploy_fixtures import GRACE_HOPPER

from ivslab_plugin.deploy.convert.registry import export_runtime, missing_packages
from ivslab_plugin.deploy.infer.backends import TorchBackend
from ivslab_plugin.deploy.infer.pipeline import FaceLandmarkPipeline, HaarFaceDetector
from ivslab_plugin.deploy.lite import LandmarkModel, decode_heatmaps, decode_simcc, load_spec
from ivslab_plugin.deploy.lite.spec import BundleError
from ivslab_plugin.deploy.lite.submission import read_submission
from ivslab_plugin.deploy.verify.parity import synthetic_samples

#: Imports that must fail in the device test: the training and export stack.
BLOCKED = ('torch', 'torchvision', 'mmengine', 'mmcv', 'mmpose', 'mmdet',
           'mmdeploy', 'ivslab_plugin')
BLOCKER = '''
import runpy, sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in {blocked!r}:
            raise ImportError('blocked on the device: ' + name)
sys.meta_path.insert(0, Block())
sys.argv = {argv!r}
runpy.run_path(sys.argv[0], run_name='__main__')
'''


def run_on_device(script: str, *args: str) -> subprocess.CompletedProcess:
    """Run a bundle's script in a fresh interpreter where the training stack
    cannot be imported."""
    code = BLOCKER.format(blocked=BLOCKED, argv=[script, *args])
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    return subprocess.run([sys.executable, '-c', code], capture_output=True,
                          text=True, timeout=300, env=env, cwd='/')


def _peaked_heatmaps(rng, n=2, k=51, size=(16, 20)):
    """Gaussian peaks at sub-cell positions plus noise, some maps empty or
    with the peak on the border."""
    h, w = size
    ys, xs = np.mgrid[0:h, 0:w]
    maps = np.zeros((n, k, h, w), np.float32)
    for i in range(n):
        for j in range(k):
            cx, cy = rng.uniform(-1, w), rng.uniform(-1, h)
            maps[i, j] = np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / 4.5)
    maps += rng.normal(0, 0.02, maps.shape).astype(np.float32)
    maps[0, 0] = -np.abs(maps[0, 0])  # no positive value: -1 locations
    return maps


@pytest.mark.parametrize('unbiased', [True, False])
def test_heatmap_decoding_matches_mmpose(unbiased):
    from mmpose.codecs import MSRAHeatmap
    rng = np.random.default_rng(0)
    maps = _peaked_heatmaps(rng)
    codec = MSRAHeatmap(input_size=(80, 64), heatmap_size=(20, 16), sigma=1.5,
                        unbiased=unbiased)
    kpts, scores = decode_heatmaps(maps, unbiased)
    kpts = kpts * 4  # cells -> input pixels, as LandmarkModel.decode does
    for i in range(len(maps)):
        ref_k, ref_s = codec.decode(maps[i].copy())
        np.testing.assert_allclose(kpts[i], ref_k[0], atol=0.01)
        np.testing.assert_array_equal(scores[i], ref_s[0])
    assert (kpts[0, 0] == -4).all()


def test_simcc_decoding_matches_mmpose():
    from mmpose.codecs import SimCCLabel
    rng = np.random.default_rng(1)
    sx = rng.normal(size=(3, 51, 128)).astype(np.float32)
    sy = rng.normal(size=(3, 51, 128)).astype(np.float32)
    sx[0, 3] = -1.0  # no positive value
    codec = SimCCLabel(input_size=(64, 64), sigma=(2., 2.),
                       simcc_split_ratio=2.0)
    kpts, scores = decode_simcc(sx, sy, 2.0)
    ref_k, ref_s = codec.decode(sx, sy)
    np.testing.assert_allclose(kpts, ref_k, atol=0.01)
    np.testing.assert_array_equal(scores, ref_s)


def test_crop_matches_mmpose_pipeline(student_onnx):
    cfg, ckpt, path = student_onnx
    ref = TorchBackend(cfg, ckpt, flip_test=False)
    model = LandmarkModel(load_spec(osp.dirname(path)))
    for image, boxes in synthetic_samples(2, seed=3):
        want = ref.preprocess(ref.inputs(image, boxes)).numpy()
        got = model.preprocess(image, boxes)[0]
        assert got.shape == want.shape
        # the same warp and the same float32 normalisation: bit-identical
        # (an INT8 model rounds its input, so one ulp can matter)
        np.testing.assert_array_equal(got, want)


def test_spec_of_the_shipped_student(student_onnx):
    spec = load_spec(osp.dirname(student_onnx[2]))
    assert spec['runtime'] == 'onnxruntime' and spec['model'] == 'end2end.onnx'
    from mmengine.config import Config
    assert spec['input_size'] == [128, 128]
    assert spec['bbox_padding'] == Config.fromfile(student_onnx[0]).bbox_padding == 1.6
    assert spec['codec'] == dict(type='heatmap', heatmap_size=[32, 32],
                                 unbiased=True, blur_kernel_size=11)
    assert spec['num_keypoints'] == 51 and spec['box_margin'] == 1.05
    assert spec['pupil_indices'] == [list(range(19, 25)), list(range(25, 31))]


def _max_diff(model, ref, samples):
    diffs = []
    for image, boxes in samples:
        want = ref.predict(image, boxes)[0]
        got = model.predict(image, boxes)[0]
        diffs.append(np.abs(got - want).max())
    return float(max(diffs))


# fp32 runtimes must give PyTorch's landmarks to 0.05 px (max over all
# points): the same crop, the same network up to float rounding, the same
# decoding.
FP32_TOL_PX = 0.05
#: The CPU teacher after 120 steps on drawn faces has nearly flat 64x64
#: heatmaps; DARK's Newton step on their low-curvature log turns 1e-6 runtime
#: rounding into up to 0.05-0.09 px (measured on two machines). A trained
#: model's peaks do not: the sample-data student gives 0.0001 px.
TEACHER_TOL_PX = 0.15


@pytest.mark.parametrize('runtime', ['onnxruntime', 'ncnn', 'tflite'])
def test_bundle_matches_pytorch(shipped_student, shipped_teacher, tiny_models,
                                tmp_path, runtime):
    """The shipped student, the CPU teacher and a SimCC model, exported and
    run by the device code."""
    if missing_packages(runtime):
        pytest.skip(f'{runtime} needs {missing_packages(runtime)} (the '
                    'LiteRT converter is an optional extra)')
    models = [shipped_student, shipped_teacher, tiny_models['simcc']]
    samples = synthetic_samples(3, seed=5)
    for i, (cfg, ckpt) in enumerate(models):
        path = export_runtime(runtime, cfg, ckpt, str(tmp_path / str(i)))
        model = LandmarkModel.from_bundle(osp.dirname(path))
        diff = _max_diff(model, TorchBackend(cfg, ckpt, flip_test=False), samples)
        tol = FP32_TOL_PX if (cfg, ckpt) != shipped_teacher else TEACHER_TOL_PX
        assert diff <= tol, f'{runtime} {cfg}: max {diff:.4f} px'


def test_bundle_runs_without_the_training_stack(student_onnx, tmp_path):
    cfg, ckpt, path = student_onnx
    bundle = osp.dirname(path)
    images = []
    for i, (image, _) in enumerate(synthetic_samples(2, seed=7)):
        images.append(str(tmp_path / f'img_{i}.png'))
        cv2.imwrite(images[-1], image)
    listing = tmp_path / 'list.txt'
    listing.write_text('\n'.join(images + [str(tmp_path / 'missing.png')]) + '\n')
    out = tmp_path / 'out'
    proc = run_on_device(osp.join(bundle, 'run_model.py'), str(listing),
                         str(out), '--detector', 'haar')
    # the missing image is reported, the others are written
    assert proc.returncode == 1, proc.stderr
    assert 'missing.png: image not found' in proc.stdout + proc.stderr
    assert sorted(os.listdir(out)) == ['img_0.txt', 'img_1.txt']
    # the same landmarks as the full pipeline with the same detector
    full = FaceLandmarkPipeline(TorchBackend(cfg, ckpt, flip_test=False),
                                HaarFaceDetector())
    for image in images:
        got = read_submission(str(out / (osp.basename(image)[:-4] + '.txt')))
        faces = full(image)
        want = [f.keypoints for f in sorted(
            faces, key=lambda f: -(f.face_box[0] + f.face_box[2]))]
        if not faces:  # the central-square fallback
            assert len(got) == 1
            continue
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert np.abs(g - w).max() <= FP32_TOL_PX + 0.001  # .3f files


def test_bundle_bad_inputs(student_onnx, tmp_path, monkeypatch):
    import shutil
    bundle = str(tmp_path / 'bundle')
    shutil.copytree(osp.dirname(student_onnx[2]), bundle)
    script = osp.join(bundle, 'run_model.py')
    listing = tmp_path / 'list.txt'
    listing.write_text('nothing.png\n')
    # a spec from another version
    spec_path = osp.join(bundle, 'landmarks.json')
    spec = json.load(open(spec_path))
    json.dump(dict(spec, version=99), open(spec_path, 'w'))
    proc = run_on_device(script, str(listing), str(tmp_path / 'o'))
    assert proc.returncode == 2
    assert 'spec version 99' in proc.stderr and 'landmarks.json' in proc.stderr
    json.dump(spec, open(spec_path, 'w'))
    # an empty model file
    open(osp.join(bundle, 'end2end.onnx'), 'w').close()
    proc = run_on_device(script, str(listing), str(tmp_path / 'o'))
    assert proc.returncode == 2
    assert 'end2end.onnx: model file is empty' in proc.stderr
    # a runtime that is not installed (None in sys.modules: import fails)
    from ivslab_plugin.deploy.lite.runtimes import NcnnRunner
    monkeypatch.setitem(sys.modules, 'ncnn', None)
    with pytest.raises(BundleError, match=r'x.ncnn.param: the ncnn runtime is '
                       r'not installed \(pip install ncnn\)'):
        NcnnRunner(str(tmp_path / 'x.ncnn.param'))


def test_blazeface_finds_a_real_face():
    from ivslab_plugin.deploy.assets import cached_blazeface
    from ivslab_plugin.deploy.lite.detect import BlazeFaceDetector, blazeface_anchors, box_iou
    assert len(blazeface_anchors(128, (8, 16, 16, 16), 2)) == 896
    assert len(blazeface_anchors(192, (4, ), 1)) == 2304
    path = cached_blazeface('short')
    if path is None:
        pytest.skip('BlazeFace is not in the cache: make install fetches it '
                    '(python -m ivslab_plugin.deploy.assets)')
    image = cv2.imread(GRACE_HOPPER)
    detector = BlazeFaceDetector(path)
    boxes, scores = detector(image)
    assert len(boxes) == 1 and scores[0] > 0.5
    haar = HaarFaceDetector()
    hb = haar.face_boxes(haar(image)[0])
    assert len(hb) == 1
    # both detectors' boxes, mapped to the face-box convention, agree
    assert box_iou(detector.face_boxes(boxes), hb)[0, 0] > 0.6


@pytest.mark.parametrize('runtime', ['onnxruntime-int8', 'tflite-int8'])
def test_shipped_student_int8_bundle(shipped_student, synthetic_data, tmp_path, runtime):
    """INT8 exports of the shipped student are measured by the shipped INT8
    check (NME on 8 held-out faces against the fp32 export, +5 %), and the
    device code gives the full stack's landmarks for the same INT8 file to
    0.05 px.

    Whether this 1000-step model passes the check depends on its weights:
    seed 0 passed here (+0.1 %) and failed on an Intel Xeon (+201 %), seed 3
    failed here (+114 % ONNX Runtime, +76 % LiteRT), and on seed 3
    quantizing the stem alone already cost +17 % (docs/embedded.md, section
    8). What INT8 gives a trained model is measured where the model is
    real: the benchmark and the quickstart, which fail on a failed check."""
    from ivslab_plugin.deploy.convert.registry import make_runner
    from ivslab_plugin.deploy.infer.backends import build_backend
    from ivslab_plugin.deploy.verify.accuracy import INT8_LIMIT, check_int8, within_limit
    from ivslab_plugin.deploy.verify.parity import check_bundle_parity
    if missing_packages(runtime):
        pytest.skip(f'{runtime} needs {missing_packages(runtime)} (the '
                    'LiteRT converter is an optional extra)')
    path = _student_int8(shipped_student, synthetic_data, tmp_path, runtime)
    (fp32_file, ) = [f for f in glob.glob(str(tmp_path / 'fp32' / '*'))
                     if f.endswith(('.onnx', '.tflite'))]
    fp32 = make_runner(fp32_file)
    gate = check_int8(fp32, make_runner(path), shipped_student[0], synthetic_data['root'])
    assert gate.limit == INT8_LIMIT and gate.faces == 8 and gate.split == 'test'
    assert 0 < gate.fp32 < 1 and np.isfinite(gate.int8)
    assert gate.passed == within_limit(gate.fp32, gate.int8)
    assert gate.line().endswith('PASSED' if gate.passed else 'FAILED')
    bundle = check_bundle_parity(build_backend(osp.dirname(path)), osp.dirname(path),
                                 synthetic_samples(3, seed=9))
    assert bundle.passed, '\n'.join(bundle.lines())


def _student_int8(shipped_student, synthetic_data, tmp_path, runtime):
    from ivslab_plugin.deploy.data import calibration_crops
    cfg, ckpt = shipped_student
    crops = calibration_crops(cfg, synthetic_data['root'], num=16)
    return export_runtime(runtime, cfg, ckpt, str(tmp_path), crops)


def test_bundle_demo_on_images_and_a_tracked_video(student_onnx, two_face_image,
                                                   tmp_path):
    """The device demo draws images and a video (tracked, smoothed) and
    writes their landmarks, with the training stack blocked."""
    bundle = osp.dirname(student_onnx[2])
    image = cv2.imread(two_face_image[0])  # Haar finds both faces
    cv2.imwrite(str(tmp_path / 'face.png'), image)
    video = str(tmp_path / 'clip.avi')
    writer = cv2.VideoWriter(video, cv2.VideoWriter_fourcc(*'MJPG'), 10,
                             image.shape[1::-1])
    for i in range(6):  # the faces drift right by 2 px a frame
        writer.write(np.roll(image, 2 * i, axis=1))
    writer.release()
    script = osp.join(bundle, 'run_model.py')
    proc = run_on_device(script, '--demo', str(tmp_path / 'face.png'), '--out-dir',
                         str(tmp_path / 'img'), '--detector', 'haar')
    assert proc.returncode == 0, proc.stderr
    results = json.load(open(tmp_path / 'img' / 'results.json'))
    assert (tmp_path / 'img' / 'face.png').is_file() and 'face.png' in results
    proc = run_on_device(script, '--demo', video, '--out-dir', str(tmp_path / 'vid'),
                         '--track', '--smooth', '--detector', 'haar')
    assert proc.returncode == 0, proc.stderr
    frames = json.load(open(tmp_path / 'vid' / 'results.json'))['clip.avi']
    assert len(frames) == 6 and (tmp_path / 'vid' / 'clip.mp4').is_file()
    assert len(frames[0]) == 2 and all(len(f) >= 1 for f in frames)
    # tracked: the same ids on the next frame, the detector not run again
    assert {f['track_id'] for f in frames[1]} <= {f['track_id'] for f in frames[0]}
    # some frames tracked, not detected (a face lost on these drawn faces is
    # detected again, so the count can exceed 1)
    calls = int(re.search(r'6 frames, (\d+) detector calls', proc.stdout).group(1))
    assert 1 <= calls < 6, proc.stdout
