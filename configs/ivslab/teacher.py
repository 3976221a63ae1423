# The teacher: RTMPose-m (CSPNeXt-m + SimCC head) at 256x256, its backbone
# initialised from the CSPNeXt-m that MMPose's RTMPose-m face configs (WFLW,
# LaPa, COCO-WholeBody-Face) start from. The weights download on the first
# run (cached under $TORCH_HOME). Without internet, download that file
# elsewhere (the URL below) and pass its path, or train from scratch:
#   --cfg-options model.backbone.init_cfg.checkpoint=PATH/TO/cspnext-m_udp-....pth
#   --cfg-options model.backbone.init_cfg=None
# These work the same with MMPose's tools/train.py and `mim train mmpose`.
#
# The recipe is RTMPose's face recipe (configs/face_2d_keypoint/rtmpose/
# wflw/rtmpose-m_8xb64-60e_wflw-256x256.py and lapa/...-120e_lapa...), for
# GPUs; where it differs, the reason is written beside the setting.
_base_ = ['./_base_/ivslab_face.py']

input_size = (256, 256)
codec = dict(
    type='SimCCLabel',
    input_size=input_size,
    sigma=(5.66, 5.66),
    simcc_split_ratio=2.0,
    normalize=False,
    use_dark=False)

# LaPa's 120 epochs (WFLW: 60): the ivslab training set is smaller than WFLW's 7500 faces
max_epochs = 120
# the last 10 epochs with milder augmentation (PipelineSwitchHook below)
stage2_num_epochs = 10
# RTMPose's lr for 8 GPUs x 64; --auto-scale-lr scales it to the real batch
base_lr = 4e-3

# val_interval 5 (RTMPose: 1): the selection split is the reported one, fewer looks bias it less
train_cfg = dict(max_epochs=max_epochs, val_interval=5)

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=base_lr, weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0, bias_decay_mult=0,
                       bypass_duplicate=True))
param_scheduler = [
    dict(type='LinearLR', start_factor=1.0e-5, by_epoch=False, begin=0,
         end=1000),
    dict(type='CosineAnnealingLR', eta_min=base_lr * 0.05,
         begin=max_epochs // 2, end=max_epochs, T_max=max_epochs // 2,
         by_epoch=True, convert_to_iter_based=True),
]
# base_lr's total batch (8 GPUs x 64): one GPU at batch 64 trains at 5e-4 with --auto-scale-lr
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
        deepen_factor=0.67,
        widen_factor=0.75,
        out_indices=(4, ),
        channel_attention=True,
        # BN, not RTMPose's SyncBN: no SyncBN on CPU (gloo), and 64 faces per GPU are stable
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
        input_size=codec['input_size'],
        in_featuremap_size=tuple([s // 32 for s in codec['input_size']]),
        simcc_split_ratio=codec['simcc_split_ratio'],
        final_layer_kernel_size=7,
        gau_cfg=dict(hidden_dims=256, s=128, expansion_factor=2,
                     dropout_rate=0., drop_path=0., act_fn='SiLU',
                     use_rel_bias=False, pos_enc=False),
        loss=dict(type='KLDiscretLoss', use_target_weight=True, beta=10.,
                  label_softmax=True),
        decoder=codec),
    test_cfg=dict(flip_test=True))

train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale', padding=_base_.bbox_padding),
    dict(type='RandomFlip', direction='horizontal'),
    # narrower than RTMPose's face ranges: keeps the landmarks in the crop (docs/crop_coverage.md)
    dict(type='RandomBBoxTransform', scale_factor=[0.75, 1.25],
         rotate_factor=30),
    dict(type='TopdownAffine', input_size=input_size),
    dict(type='mmdet.YOLOXHSVRandomAug'),
    dict(
        type='Albumentation',
        transforms=[
            dict(type='Blur', p=0.1),
            dict(type='MedianBlur', p=0.1),
            # RTMPose's stage 1: an occluding patch on every face
            dict(type='CoarseDropout', max_holes=1, max_height=0.4,
                 max_width=0.4, min_holes=1, min_height=0.2, min_width=0.2,
                 p=1.0),
        ]),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs'),
]
# RTMPose's stage 2: milder augmentation for the last epochs
train_pipeline_stage2 = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale', padding=_base_.bbox_padding),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomBBoxTransform', shift_factor=0., scale_factor=[0.85, 1.15],
         rotate_factor=20),
    dict(type='TopdownAffine', input_size=input_size),
    dict(type='mmdet.YOLOXHSVRandomAug'),
    dict(
        type='Albumentation',
        transforms=[
            dict(type='Blur', p=0.1),
            dict(type='MedianBlur', p=0.1),
            # RTMPose's stage 2: occlusion at half the stage-1 rate
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

custom_hooks = [
    # not in RTMPose's face configs: keeps the unsynchronised BN buffers of the DDP processes equal
    dict(type='SyncBuffersHook'),
    # EMA of the weights and the stage-2 switch, as RTMPose
    dict(type='EMAHook', ema_type='ExpMomentumEMA', momentum=0.0002,
         update_buffers=True, priority=49),
    dict(type='mmdet.PipelineSwitchHook',
         switch_epoch=max_epochs - stage2_num_epochs,
         switch_pipeline=train_pipeline_stage2),
]
