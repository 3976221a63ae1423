# heatmap head, ONNX Runtime fp16, dynamic batch: the fp32 config plus fp16.
_base_ = ['./pose-detection_heatmap_onnxruntime_dynamic.py']
backend_config = _base_.fp16_backend_config
