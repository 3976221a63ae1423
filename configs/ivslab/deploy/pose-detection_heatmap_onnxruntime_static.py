# heatmap head, ONNX Runtime fp32, static batch.
_base_ = ['./_base_/onnxruntime.py']
