# The teacher: RTMPose-m (CSPNeXt-m + SimCC head) at 256x256, its backbone
# initialised from the CSPNeXt-m that MMPose's RTMPose-m face configs (WFLW,
# LaPa, COCO-WholeBody-Face) start from. The weights download on the first
# run (cached under $TORCH_HOME). Without internet, download that file
# elsewhere (the URL below) and pass its path, or train from scratch:
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH/TO/cspnext-m_udp-....pth
#   --cfg-options model.backbone.init_cfg=None
# These work the same with MMPose's tools/train.py and `mim train mmpose`.
_base_ = ['./_base_/ivslab_face.py']

max_epochs = 120
stage2_num_epochs = 20
base_lr = 2e-3

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
# lr above is for one GPU at batch 64; scaled linearly with --auto-scale-lr.
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
        deepen_factor=0.67,
        widen_factor=0.75,
        out_indices=(4, ),
        channel_attention=True,
        norm_cfg=dict(type='BN'),
        act_cfg=dict(type='SiLU'),
        init_cfg=dict(
            type='Pretrained',
            prefix='backbone.',
            checkpoint='https://download.openmmlab.com/mmpose/v1/projects/'
            'rtmposev1/cspnext-m_udp-aic-coco_210e-256x192-f2f7d6f6_20230130.pth')),
    head=dict(
        type='RTMCCHead',
        in_channels=768,
        out_channels=51,
        input_size=_base_.codec['input_size'],
        in_featuremap_size=tuple([s // 32 for s in _base_.codec['input_size']]),
        simcc_split_ratio=_base_.codec['simcc_split_ratio'],
        final_layer_kernel_size=7,
        gau_cfg=dict(hidden_dims=256, s=128, expansion_factor=2,
                     dropout_rate=0., drop_path=0., act_fn='SiLU',
                     use_rel_bias=False, pos_enc=False),
        loss=dict(type='KLDiscretLoss', use_target_weight=True, beta=10.,
                  label_softmax=True),
        decoder=_base_.codec),
    test_cfg=dict(flip_test=True))

# Last epochs: milder augmentation, as RTMPose does.
train_pipeline_stage2 = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale', padding=_base_.bbox_padding),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomBBoxTransform', shift_factor=0., scale_factor=[0.85, 1.15],
         rotate_factor=20),
    dict(type='TopdownAffine', input_size=_base_.input_size),
    dict(type='mmdet.YOLOXHSVRandomAug'),
    dict(type='GenerateTarget', encoder=_base_.codec),
    dict(type='PackPoseInputs'),
]
custom_hooks = [
    dict(type='SyncBuffersHook'),
    dict(type='EMAHook', ema_type='ExpMomentumEMA', momentum=0.0002,
         update_buffers=True, priority=49),
    dict(type='mmdet.PipelineSwitchHook',
         switch_epoch=max_epochs - stage2_num_epochs,
         switch_pipeline=train_pipeline_stage2),
]
