# simcc head, ONNX Runtime fp32, static batch.
_base_ = ['./_base_/onnxruntime_simcc.py']
