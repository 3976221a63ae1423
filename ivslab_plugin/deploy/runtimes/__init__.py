"""Embedded runtimes: ncnn (pnnx), LiteRT/TFLite (litert-torch), and INT8
post-training quantization (ONNX Runtime QDQ, TFLite PT2E).

Each runtime has an export function, a *runner* (raw network on normalised
crops, for parity and latency) and a backend with the same interface and
output as the PyTorch and ONNX Runtime backends. Importing this package
imports none of the runtimes' packages.
"""
from .common import RuntimeBackend, TensorGraph, load_estimator, torch_runner
from .data import calibration_crops, evaluate_runner
from .ncnn import NcnnBackend, NcnnRunner, export_ncnn
from .ort_int8 import OrtRunner, quantize_onnx_int8
from .tflite import TFLiteBackend, TFLiteRunner, export_tflite, quantize_tflite_int8

__all__ = [
    'RuntimeBackend', 'TensorGraph', 'load_estimator', 'torch_runner',
    'calibration_crops', 'evaluate_runner', 'NcnnBackend', 'NcnnRunner',
    'export_ncnn', 'OrtRunner', 'quantize_onnx_int8', 'TFLiteBackend',
    'TFLiteRunner', 'export_tflite', 'quantize_tflite_int8'
]
