# SimCC heads (RTMCCHead) have two outputs; MMDeploy's backend model unpacks
# them as (simcc_x, simcc_y) and decodes them with the model's head.
_base_ = ['./onnxruntime.py']
onnx_config = dict(output_names=['simcc_x', 'simcc_y'])
codebase_config = dict(export_postprocess=False)
