"""The device code's fast paths (table lookups, one-call layout changes,
matrix blurs, the two-model detector) give what the plain computation
gives. Their speed is measured by ``tools/analysis/e2e_latency.py``."""
import cv2
import matplotlib
import numpy as np
import pytest

from ivslab_plugin.deploy.lite.detect import (
    BlazeFaceDetector,
    BoxTransform,
    FaceDetector,
    ShortThenFull,
)
from ivslab_plugin.deploy.lite.landmarks import LandmarkModel, gaussian_blur, to_nchw
from ivslab_plugin.deploy.lite.runtimes import quantize

GRACE_HOPPER = f'{matplotlib.get_data_path()}/sample_data/grace_hopper.jpg'


def _spec(bgr_to_rgb: bool) -> dict:
    return dict(input_size=[64, 48], bbox_padding=1.25, num_keypoints=5,
                mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                bgr_to_rgb=bgr_to_rgb, codec=dict(type='heatmap', unbiased=True))


class _Runner:
    def __init__(self, detail=None):
        self.input_detail = detail

    def __call__(self, x):
        raise AssertionError('not run')


@pytest.mark.parametrize('bgr_to_rgb', [True, False])
def test_crops_by_table_equal_the_float_normalisation(bgr_to_rgb):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    boxes = np.array([[20, 10, 90, 100], [70.5, 30.2, 150.1, 110.9]], np.float32)
    spec = _spec(bgr_to_rgb)
    crops = LandmarkModel(spec, _Runner()).preprocess(image, boxes)[0]
    # the plain computation: warp, float32 (x - mean) / std, channels first
    mean = np.float32(spec['mean'])
    std = np.float32(spec['std'])
    from ivslab_plugin.deploy.lite.landmarks import center_scale, warp_matrix
    centers, scales = center_scale(boxes, 1.25, (64, 48))
    want = []
    for c, s in zip(centers, scales):
        x = cv2.warpAffine(image, warp_matrix(c, s, (64, 48)), (64, 48),
                           flags=cv2.INTER_LINEAR).astype(np.float32)
        x = x[..., ::-1] if bgr_to_rgb else x
        want.append(((x - mean) / std).transpose(2, 0, 1))
    assert crops.dtype == np.float32 and crops.shape == (2, 3, 48, 64)
    np.testing.assert_array_equal(crops, np.stack(want))
    # an int8-input model: the table holds the runner's quantization itself
    detail = dict(dtype=np.int8, quantization=(0.0173, -3))
    q = LandmarkModel(spec, _Runner(detail)).preprocess(image, boxes)[0]
    assert q.dtype == np.int8
    np.testing.assert_array_equal(q, quantize(crops, detail))
    # and the runner passes crops of its own type through
    assert quantize(q, detail) is q


def test_to_nchw_is_a_plain_transpose():
    rng = np.random.default_rng(1)
    for dtype in (np.float32, np.int8, np.uint8):
        ims = [rng.integers(-128, 127, (7, 5, 3)).astype(dtype) for _ in range(2)]
        for swap in (True, False):
            got = to_nchw(ims, swap)
            want = np.stack([im.transpose(2, 0, 1)[::-1 if swap else 1] for im in ims])
            assert got.dtype == dtype
            np.testing.assert_array_equal(got, want)
    with pytest.raises(ValueError, match='int32'):
        to_nchw([np.zeros((2, 2, 3), np.int32)], False)


def test_matrix_blur_equals_opencvs_filter():
    rng = np.random.default_rng(2)
    maps = rng.random((4, 32, 24)).astype(np.float32)
    border = 5
    want = []
    for m in maps:  # MMPose's gaussian_blur, map by map
        padded = np.zeros((32 + 2 * border, 24 + 2 * border), np.float32)
        padded[border:-border, border:-border] = m
        b = cv2.GaussianBlur(padded, (11, 11), 0)[border:-border, border:-border]
        want.append(b * (m.max() / b.max()))
    np.testing.assert_allclose(gaussian_blur(maps, 11), np.stack(want), rtol=1e-5, atol=1e-6)


class _Fixed(FaceDetector):
    """Returns fixed detector boxes; counts its calls."""

    def __init__(self, boxes, transform):
        self.boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        self.box_transform = transform
        self.calls = 0

    def __call__(self, image):
        self.calls += 1
        return self.boxes, np.full(len(self.boxes), 0.9, np.float32)


def test_short_then_full_runs_the_full_range_only_where_needed():
    image = np.zeros((400, 600, 3), np.uint8)
    grow = BoxTransform(scale=0.5)
    full_boxes = [[100, 100, 200, 200], [400, 100, 440, 140]]
    # a large face (>= 0.25 x 400 px): the short range's answer stands
    short, full = _Fixed([[100, 100, 220, 220]], grow), _Fixed(full_boxes, grow)
    boxes, _ = ShortThenFull(short, full)(image)
    assert full.calls == 0
    np.testing.assert_allclose(boxes, grow(short.boxes))
    # a small face: the full range runs too; the same face found by both is
    # merged, the face only the full range found is added
    short = _Fixed([[102, 98, 198, 202]], grow)
    boxes, _ = ShortThenFull(short, full)(image)
    assert full.calls == 1 and len(boxes) == 2
    assert np.abs(boxes - grow(np.array(full_boxes, np.float32))).max() < 3
    # no face: the full range's faces
    boxes, _ = ShortThenFull(_Fixed([], grow), full)(image)
    assert full.calls == 2 and len(boxes) == 2


def test_blazeface_letterbox_maps_boxes_back_to_the_image():
    from ivslab_plugin.deploy.assets import cached_blazeface
    path = cached_blazeface('short')
    if path is None:
        pytest.skip('BlazeFace is not in the cache: make install fetches it')
    det = BlazeFaceDetector(path)
    image = cv2.imread(GRACE_HOPPER)  # 512 x 600: letterboxed left and right
    boxes, _ = det(image)
    # padded to a black 600 x 600 square by hand: the same network input
    # (the letterbox's bars are black too), so the same box, 44 px right
    square = cv2.copyMakeBorder(image, 0, 0, 44, 44, cv2.BORDER_CONSTANT, value=0)
    moved, _ = det(square)
    assert len(boxes) == len(moved) == 1
    np.testing.assert_allclose(moved[0], boxes[0] + [44, 0, 44, 0], atol=0.01)
