# ONNX Runtime export of a top-down landmark model through MMDeploy.
# `input_shape=None`: the crop size comes from the model config's codec
# (`TopdownAffine`), so one deploy config serves the teacher (256x256) and
# any student input size.
onnx_config = dict(
    type='onnx',
    export_params=True,
    keep_initializers_as_inputs=False,
    opset_version=11,
    save_file='end2end.onnx',
    input_names=['input'],
    output_names=['output'],
    input_shape=None,
    optimize=True)
codebase_config = dict(type='mmpose', task='PoseDetection')
backend_config = dict(type='onnxruntime')
# Not an MMDeploy key: tools/deploy.py writes the SDK files
# (deploy.json, pipeline.json, detail.json) when this is True.
dump_info = False

# What the *-fp16 configs set as `backend_config`: fp16 weights and
# activations (onnxconverter-common); inputs and outputs stay fp32
# (keep_io_types) so pre/post-processing is unchanged.
fp16_backend_config = dict(
    type='onnxruntime',
    precision='fp16',
    common_config=dict(
        min_positive_val=1e-7,
        max_finite_val=1e4,
        keep_io_types=True,
        disable_shape_infer=False,
        op_block_list=None,
        node_block_list=None))
