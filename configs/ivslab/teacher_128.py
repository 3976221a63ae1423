# teacher.py (RTMPose-m, CSPNeXt-m + SimCC) at 128x128: a 4x cheaper
# teacher for CPU experiments such as tools/analysis/kd_benchmark.py. The
# architecture and recipe are teacher.py's; only the input size changes.
_base_ = ['./teacher.py']

input_size = (128, 128)
codec = dict(
    type='SimCCLabel',
    input_size=input_size,
    sigma=(4.0, 4.0),
    simcc_split_ratio=2.0,
    normalize=False,
    use_dark=False)

model = dict(
    head=dict(
        input_size=input_size,
        in_featuremap_size=tuple([s // 32 for s in input_size]),
        final_layer_kernel_size=3,
        decoder=codec))

_geometry = dict(
    train=dict(type='RandomBBoxTransform', scale_factor=[0.75, 1.25], rotate_factor=30),
    stage2=dict(type='RandomBBoxTransform', shift_factor=0., scale_factor=[0.85, 1.15],
                rotate_factor=20))


def _pipeline(geometry: dict, occlusion: bool) -> list:
    steps = [
        dict(type='LoadImage'),
        dict(type='GetBBoxCenterScale', padding=_base_.bbox_padding),
        dict(type='RandomFlip', direction='horizontal'),
        geometry,
        dict(type='TopdownAffine', input_size=input_size),
        dict(type='mmdet.YOLOXHSVRandomAug'),
    ]
    if occlusion:
        steps.append(_base_.train_pipeline[6])  # the Albumentation step
    return steps + [dict(type='GenerateTarget', encoder=codec), dict(type='PackPoseInputs')]


train_pipeline = _pipeline(_geometry['train'], occlusion=True)
train_pipeline_stage2 = _pipeline(_geometry['stage2'], occlusion=False)
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale', padding=_base_.bbox_padding),
    dict(type='TopdownAffine', input_size=input_size),
    dict(type='PackPoseInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = val_dataloader
custom_hooks = [
    dict(type='SyncBuffersHook'),
    dict(type='EMAHook', ema_type='ExpMomentumEMA', momentum=0.0002,
         update_buffers=True, priority=49),
    dict(type='mmdet.PipelineSwitchHook',
         switch_epoch=_base_.max_epochs - _base_.stage2_num_epochs,
         switch_pipeline=train_pipeline_stage2),
]
