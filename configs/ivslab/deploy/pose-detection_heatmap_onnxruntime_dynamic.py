# heatmap head, ONNX Runtime fp32, dynamic batch.
_base_ = ['./_base_/onnxruntime.py']
# Dynamic batch only: the crop size stays fixed by the model config.
onnx_config = dict(
    dynamic_axes={
        'input': {0: 'batch'},
        'output': {0: 'batch'},
    })
