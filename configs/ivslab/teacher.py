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

# 120 epochs as LaPa (WFLW: 60): the ivslab training set (300W, AFW, HELEN,
# IBUG, IFPW) is smaller than WFLW's 7500 faces.
max_epochs = 120
# the last 10 epochs with milder augmentation (PipelineSwitchHook below)
stage2_num_epochs = 10
# 4e-3 for 8 GPUs x 64 (RTMPose); --auto-scale-lr scales it to the real batch
base_lr = 4e-3

# val_interval 5 (RTMPose: 1): on the ivslab layout the selection split is
# the reported one (test.tsv); fewer looks at it bias the best epoch less.
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
# base_lr is for a total batch of 512 (8 GPUs x 64), as RTMPose's; with
# --auto-scale-lr one GPU at batch 64 trains at 5e-4.
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
        # BN (RTMPose: SyncBN): SyncBN cannot run on CPU processes (gloo),
        # and at 64 faces per GPU the batch statistics are already stable
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

# Last epochs: milder augmentation, as RTMPose does (the stage-1 pipeline is
# the shared _base_'s train_pipeline).
train_pipeline_stage2 = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale', padding=_base_.bbox_padding),
    dict(type='RandomFlip', direction='horizontal'),
    dict(type='RandomBBoxTransform', shift_factor=0., scale_factor=[0.85, 1.15],
         rotate_factor=20),
    dict(type='TopdownAffine', input_size=_base_.input_size),
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
    dict(type='GenerateTarget', encoder=_base_.codec),
    dict(type='PackPoseInputs'),
]
custom_hooks = [
    # (not in RTMPose's face configs, as in its body ones): keeps the BN
    # buffers of the DDP processes equal, since BN is not synchronised
    dict(type='SyncBuffersHook'),
    # EMA of the weights and the stage-2 switch, as RTMPose
    dict(type='EMAHook', ema_type='ExpMomentumEMA', momentum=0.0002,
         update_buffers=True, priority=49),
    dict(type='mmdet.PipelineSwitchHook',
         switch_epoch=max_epochs - stage2_num_epochs,
         switch_pipeline=train_pipeline_stage2),
]
