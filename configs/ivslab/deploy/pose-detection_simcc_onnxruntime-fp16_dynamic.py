# simcc head, ONNX Runtime fp16, dynamic batch: the fp32 config plus fp16.
_base_ = ['./pose-detection_simcc_onnxruntime_dynamic.py']
backend_config = _base_.fp16_backend_config
