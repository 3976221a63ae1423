"""On-device face landmarks: numpy, OpenCV and one runtime, no PyTorch.

Every export copies this package as ``ivslab_lite/`` into its folder, next
to the model, a ``landmarks.json`` spec (:mod:`.spec`) and ``run_model.py``,
so the folder runs where only ``numpy``, ``opencv-python-headless`` and the
model's runtime (``ai-edge-litert``, ``onnxruntime`` or ``ncnn``) are
installed. Its modules import nothing but the standard library, numpy and
cv2 at module level, and import each other relatively, so the copy is the
same code that the tests run in place.
"""
from .demo import run_demo
from .detect import BoxTransform, FaceDetector, open_detector
from .errors import BundleError
from .face import Face, draw, read_image, rightmost_first
from .landmarker import Landmarker, LandmarkerOptions
from .landmarks import LandmarkModel, decode_heatmaps, decode_simcc
from .spec import SPEC_NAME, SPEC_VERSION, load_spec
from .submission import FaceBoxes, SubmissionSummary, write_submission
from .track import FaceTracker, OneEuroFilter

__all__ = [
    'Face', 'Landmarker', 'LandmarkerOptions', 'draw', 'read_image', 'rightmost_first', 'run_demo',
    'FaceBoxes', 'SubmissionSummary', 'write_submission', 'BoxTransform',
    'FaceDetector', 'open_detector', 'LandmarkModel', 'decode_heatmaps',
    'decode_simcc', 'SPEC_NAME', 'SPEC_VERSION', 'BundleError', 'load_spec',
    'FaceTracker', 'OneEuroFilter'
]
