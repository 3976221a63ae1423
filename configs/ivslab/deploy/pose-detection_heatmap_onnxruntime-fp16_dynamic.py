# heatmap head, ONNX Runtime fp16, dynamic batch.
_base_ = ['./_base_/onnxruntime.py']
# Dynamic batch only: the crop size stays fixed by the model config.
onnx_config = dict(
    dynamic_axes={
        'input': {0: 'batch'},
        'output': {0: 'batch'},
    })

# fp16 weights and activations (onnxconverter-common); inputs and outputs stay
# fp32 (keep_io_types) so pre/post-processing is unchanged.
backend_config = dict(
    precision='fp16',
    common_config=dict(
        min_positive_val=1e-7,
        max_finite_val=1e4,
        keep_io_types=True,
        disable_shape_infer=False,
        op_block_list=None,
        node_block_list=None))
