"""Export, run and check landmark models outside training.

Not imported by ``ivslab_plugin`` itself: it registers no modules, and
MMDeploy stays out of ``import ivslab_plugin``. Its parts, from the bottom
up (a part imports only the parts above it in this list):

- ``configs``, ``model``, ``data``, ``assets``: deploy configs, the exported
  network, real face crops, the fetched face detector;
- ``lite``: the device code (numpy + OpenCV + one runtime, no PyTorch) that
  every export copies into its folder;
- ``infer``: the full-stack backends (PyTorch, ONNX Runtime, SDK, ncnn,
  LiteRT), the face pipeline, the submission writer and the demo;
- ``convert``: MMDeploy (ONNX Runtime, SDK), ncnn, LiteRT and INT8 exports,
  and the bundle writer;
- ``verify``: parity with PyTorch and the accuracy of exports;
- ``cli``: the command lines of ``tools/``.
"""
from .configs import deploy_config_path, head_kind
from .infer.backends import (
    LandmarkBackend,
    OnnxRuntimeBackend,
    RuntimeBackend,
    SdkBackend,
    TorchBackend,
    build_backend,
)
from .infer.pipeline import (
    HAAR_TO_TSV,
    BlazeFaceDetector,
    BoxTransform,
    FaceLandmarkPipeline,
    HaarFaceDetector,
    MMDetFaceDetector,
    fit_box_transform,
)
from .lite import Face, Landmarker, read_image, rightmost_first

__all__ = [
    'LandmarkBackend', 'OnnxRuntimeBackend', 'SdkBackend', 'TorchBackend',
    'RuntimeBackend', 'build_backend', 'deploy_config_path',
    'head_kind', 'HAAR_TO_TSV', 'BlazeFaceDetector', 'BoxTransform',
    'FaceLandmarkPipeline', 'Face', 'Landmarker', 'HaarFaceDetector',
    'MMDetFaceDetector', 'fit_box_transform', 'read_image', 'rightmost_first'
]
