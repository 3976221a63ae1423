"""Tracking and smoothing of the device code, with a scripted detector and
landmark model so every count is known."""
import numpy as np

from ivslab_plugin.deploy.lite.detect import FaceDetector
from ivslab_plugin.deploy.lite.track import FaceTracker, OneEuroFilter, face_box

rng = np.random.default_rng(0)
TEMPLATE = rng.uniform(0, 60, (51, 2)).astype(np.float32)


class ScriptedDetector(FaceDetector):
    """Finds the face at ``offsets[frame]`` (a 60 px box), counts calls."""

    def __init__(self):
        self.calls = 0
        self.where = None

    def __call__(self, image):
        self.calls += 1
        x, y = self.where
        return (np.array([[x, y, x + 60, y + 60]], np.float32),
                np.ones(1, np.float32))


class ScriptedModel:
    """Landmarks of the face at the current offset, plus noise; scores drop
    to ``lost_score`` on the frames listed in ``lost``."""

    def __init__(self, noise=0.0):
        self.where, self.frame, self.noise, self.lost = None, 0, noise, set()

    def predict(self, image, boxes):
        k = np.stack([TEMPLATE + self.where + rng.normal(0, self.noise, TEMPLATE.shape)
                      for _ in boxes]).astype(np.float32)
        s = np.full(k.shape[:2], 0.05 if self.frame in self.lost else 0.9,
                    np.float32)
        return k, s


def run(tracker, model, detector, frames):
    image = np.zeros((240, 320, 3), np.uint8)
    out = []
    for i in range(frames):
        model.frame = i
        model.where = detector.where = np.array([100 + i, 80], np.float32)
        out.append(tracker(image))
    return out


def test_detector_runs_on_the_first_frame_and_every_n():
    model, det = ScriptedModel(), ScriptedDetector()
    tracker = FaceTracker(model, det, redetect_every=10)
    faces = run(tracker, model, det, 25)
    assert det.calls == 3  # frames 0, 10, 20
    assert tracker.stats.detector_calls == 3
    assert all(len(f) == 1 for f in faces)
    assert len({f[0].track_id for f in faces}) == 1  # one face, one id
    assert [f[0].detected for f in faces[:2]] == [True, False]


def test_a_lost_face_is_found_again_in_the_same_frame():
    model, det = ScriptedModel(), ScriptedDetector()
    model.lost = {5}
    tracker = FaceTracker(model, det, redetect_every=0, min_score=0.3)
    faces = run(tracker, model, det, 8)
    # frame 0 detects; frame 5's landmarks score 0.05 < 0.3: lost, the
    # detector runs again on frame 5
    assert det.calls == 2 and tracker.stats.lost == 1
    assert len(faces[5]) == 1 and faces[5][0].detected


def test_next_box_follows_the_face_box_rule():
    pts = np.array([[10, 20], [50, 20], [30, 100]], np.float32)
    box = face_box(pts, 1.05)
    np.testing.assert_allclose(box, [30 - 21, 60 - 21, 30 + 21, 60 + 21])


def test_one_euro_smooths_jitter_and_follows_motion():
    f = OneEuroFilter(freq=25, min_cutoff=1.0, beta=1.0)
    noisy = 50 + rng.normal(0, 1.0, (100, 2))
    out = np.stack([f(x, unit=60.0) for x in noisy])
    jitter_in = np.abs(np.diff(noisy, axis=0)).mean()
    jitter_out = np.abs(np.diff(out, axis=0)).mean()
    assert jitter_out < 0.5 * jitter_in
    # a fast move is followed within a few frames, not averaged away
    g = OneEuroFilter(freq=25, min_cutoff=1.0, beta=1.0)
    track = np.concatenate([np.zeros(10), np.full(10, 60.0)])
    moved = [float(g(np.array([x]), unit=60.0)[0]) for x in track]
    assert moved[14] > 50


def test_smoothing_lowers_tracked_jitter():
    jitter = {}
    for smooth in (False, True):
        model, det = ScriptedModel(noise=1.0), ScriptedDetector()
        tracker = FaceTracker(model, det, redetect_every=0, smooth=smooth, fps=25)
        faces = run(tracker, model, det, 60)
        k = np.stack([f[0].keypoints for f in faces])
        # motion beyond the true 1 px/frame drift
        jitter[smooth] = np.abs(np.diff(k, axis=0) - [1, 0]).mean()
    assert jitter[True] < 0.7 * jitter[False]
