# heatmap head: ONNX Runtime fp32, static batch, plus the MMDeploy SDK files
# (deploy.json, pipeline.json, detail.json) for mmdeploy_runtime.PoseDetector.
_base_ = ['./_base_/onnxruntime.py']
dump_info = True
