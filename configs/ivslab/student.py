# The student: CSPNeXt (stages 1-3, widen 0.21875, deepen 0.33) + a
# deconvolution-free heatmap head at 128x128, trained alone (the baseline for
# distillation).
# Budget (tools/analysis/complexity.py): < 0.05 GMACs, < 0.5 M parameters.
_base_ = ['./_base_/ivslab_face.py']

input_size = (128, 128)
codec = dict(
    type='MSRAHeatmap',
    input_size=input_size,
    heatmap_size=(32, 32),
    sigma=2,
    # DARK: 32x32 heatmaps lose 1.5 px to argmax decoding (docs/distillation.md)
    unbiased=True)

# RTMPose's recipe without EMA (as RTMPose-t, the closest size) or stage-2 switch, as measured
max_epochs = 120
base_lr = 4e-3

train_cfg = dict(max_epochs=max_epochs, val_interval=5)

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=base_lr, weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0, bias_decay_mult=0,
                       bypass_duplicate=True))
param_scheduler = [
    # 500 warm-up steps (RTMPose: 1000): the measured recipe
    dict(type='LinearLR', start_factor=1.0e-5, by_epoch=False, begin=0,
         end=500),
    dict(type='CosineAnnealingLR', eta_min=base_lr * 0.05,
         begin=max_epochs // 2, end=max_epochs, T_max=max_epochs // 2,
         by_epoch=True, convert_to_iter_based=True),
]
# RTMPose's 8 GPUs x 64; CPU runs use 4e-3 at batches of 16-64 without --auto-scale-lr
auto_scale_lr = dict(base_batch_size=512)

model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(
        type='PoseDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True),
    backbone=dict(
        _scope_='mmdet',
        type='CSPNeXt',
        arch='P5',
        expand_ratio=0.5,
        deepen_factor=0.33,
        # P5's first three stages (the fourth fed nothing), widened into the 0.05 GMAC budget
        arch_ovewrite=[[64, 128, 3, True, False], [128, 256, 6, True, False],
                       [256, 512, 6, True, False]],
        widen_factor=0.21875,
        # stride 16 (8x8 at 128 px); the head upsamples x4 to 32x32
        out_indices=(3, ),
        channel_attention=True,
        norm_cfg=dict(type='BN'),
        act_cfg=dict(type='SiLU')),
    head=dict(
        type='LiteHeatmapHead',
        in_channels=112,
        out_channels=51,
        mid_channels=(96, 64),
        loss=dict(type='KeypointMSELoss', use_target_weight=True),
        decoder=codec),
    # no flip test: tools/test.py measures what is exported (docs/experiments.md)
    test_cfg=dict(flip_test=False))

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale', padding=_base_.bbox_padding),
    dict(type='RandomFlip', direction='horizontal'),
    # keeps the landmarks inside the crop (docs/crop_coverage.md)
    dict(type='RandomBBoxTransform', scale_factor=[0.75, 1.25],
         rotate_factor=30),
    dict(type='TopdownAffine', input_size=input_size),
    dict(type='mmdet.YOLOXHSVRandomAug'),
    dict(
        type='Albumentation',
        transforms=[
            dict(type='Blur', p=0.1),
            dict(type='MedianBlur', p=0.1),
            # p 0.5 (RTMPose stage 1: 1.0): the measured recipe
            dict(type='CoarseDropout', max_holes=1, max_height=0.4,
                 max_width=0.4, min_holes=1, min_height=0.2, min_width=0.2,
                 p=0.5),
        ]),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs'),
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale', padding=_base_.bbox_padding),
    dict(type='TopdownAffine', input_size=input_size),
    dict(type='PackPoseInputs'),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=val_pipeline))
