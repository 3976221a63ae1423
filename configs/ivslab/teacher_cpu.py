# A heatmap teacher that converges on a CPU: CSPNeXt-t (RTMPose-t size,
# deepen 0.167, widen 0.375) at the student's 128x128 input, stage 3 out
# (192 ch, 8x8), a deconvolution-free heatmap head to 64x64 heatmaps with DARK
# (unbiased) encoding/decoding, so its landmarks are sub-pixel. teacher.py
# (RTMPose-m, SimCC, 256x256) is the accurate teacher for GPUs; this one is for
# tools/analysis/kd_benchmark.py and the quickstart, where RTMPose-m from
# scratch does not converge in CPU time.
# The network is defined here in full, not inherited from student.py, so a
# change of the student cannot change it.
_base_ = ['./_base_/ivslab_face.py']

input_size = (128, 128)
codec = dict(
    type='MSRAHeatmap', input_size=input_size, heatmap_size=(64, 64), sigma=4,
    unbiased=True)

# CPU recipe: lr 4e-3 for one process at batch 64, warm-up, cosine over the second half
max_epochs = 120
base_lr = 4e-3

train_cfg = dict(max_epochs=max_epochs, val_interval=5)

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=base_lr, weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0, bias_decay_mult=0,
                       bypass_duplicate=True))
param_scheduler = [
    dict(type='LinearLR', start_factor=1.0e-5, by_epoch=False, begin=0,
         end=500),
    dict(type='CosineAnnealingLR', eta_min=base_lr * 0.05,
         begin=max_epochs // 2, end=max_epochs, T_max=max_epochs // 2,
         by_epoch=True, convert_to_iter_based=True),
]
auto_scale_lr = dict(base_batch_size=64)

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
        deepen_factor=0.167,
        widen_factor=0.375,
        # stride 16 (8x8 at 128 px); the head upsamples x8 to 64x64
        out_indices=(3, ),
        channel_attention=True,
        norm_cfg=dict(type='BN'),
        act_cfg=dict(type='SiLU')),
    head=dict(
        type='LiteHeatmapHead',
        in_channels=192,
        out_channels=51,
        mid_channels=(256, 128, 64),
        loss=dict(type='KeypointMSELoss', use_target_weight=True),
        decoder=codec),
    test_cfg=dict(flip_test=False))
# all four P5 stages are built (docs/distillation.md's network), but stage 4 gets no gradient
find_unused_parameters = True

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale', padding=_base_.bbox_padding),
    dict(type='RandomFlip', direction='horizontal'),
    # student.py's geometry: the teacher learns the crops it is asked about in distillation
    dict(type='RandomBBoxTransform', scale_factor=[0.75, 1.25],
         rotate_factor=30),
    dict(type='TopdownAffine', input_size=input_size),
    dict(type='mmdet.YOLOXHSVRandomAug'),
    dict(
        type='Albumentation',
        transforms=[
            dict(type='Blur', p=0.1),
            dict(type='MedianBlur', p=0.1),
            # p 0.5 (RTMPose: 1.0) for the small sample data and short CPU schedules
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
