"""Export, inference, demo and challenge submission.

Not imported by ``ivslab_plugin`` itself: it registers no modules, and
MMDeploy stays out of ``import ivslab_plugin``. Import what you need from the
submodules (``backends``, ``export``, ``parity``, ``pipeline``,
``submission``, ``demo``, ``runtimes`` for ncnn / LiteRT / INT8,
``benchmark``); the names below are the public API.
"""
from .backends import (
                       LandmarkBackend,
                       OnnxRuntimeBackend,
                       SdkBackend,
                       TorchBackend,
                       build_backend,
)
from .configs import deploy_config_path, head_kind
from .pipeline import (
                       HAAR_TO_TSV,
                       BoxTransform,
                       FaceLandmarkPipeline,
                       FaceLandmarks,
                       HaarFaceDetector,
                       MMDetFaceDetector,
                       fit_box_transform,
                       load_image,
                       rightmost_first,
)
from .runtimes import NcnnBackend, TFLiteBackend

__all__ = [
    'LandmarkBackend', 'OnnxRuntimeBackend', 'SdkBackend', 'TorchBackend',
    'NcnnBackend', 'TFLiteBackend',
    'build_backend', 'deploy_config_path', 'head_kind', 'HAAR_TO_TSV',
    'BoxTransform', 'FaceLandmarkPipeline', 'FaceLandmarks',
    'HaarFaceDetector', 'MMDetFaceDetector', 'fit_box_transform',
    'load_image', 'rightmost_first'
]
