# Data and evaluation shared by every ivslab config; each config adds its
# model, codec, pipelines and schedule.
# Point `data_root` at your data (or use --cfg-options data_root=...):
#   data_root/images/...                 image paths in the TSVs resolve here
#   data_root/annotations/ivslab/train.tsv, test.tsv (the validation split)
# The val split selects the best checkpoint (save_best), the test split gives
# the reported numbers. The ivslab data has no labelled split besides its
# validation split test.tsv, so both are test.tsv by default; the sample data
# (tools/build_sample_data.py) has a separate val.tsv: select on it with
#   --cfg-options val_ann_file=annotations/ivslab/val.tsv
# (with MMPose's own tools: val_dataloader.dataset.ann_file=...).
_base_ = ['mmpose::_base_/default_runtime.py']

custom_imports = dict(imports=['ivslab_plugin'], allow_failed_imports=False)

# base dataset settings
data_root = 'data/ivslab/'
dataset_type = 'IvslabFaceDataset'
# MMPoseInferencer reads it (top-down: a face box, then landmarks in it)
data_mode = 'topdown'
train_ann_file = 'annotations/ivslab/train.tsv'
val_ann_file = 'annotations/ivslab/test.tsv'
test_ann_file = 'annotations/ivslab/test.tsv'
# no metainfo: IvslabFaceDataset.METAINFO carries it, so MMPose's APIs find it from anywhere
# the TSV box is tight and square; a 1.6x crop keeps profile landmarks (docs/crop_coverage.md)
bbox_padding = 1.6

# data loaders; each config sets their pipelines
train_dataloader = dict(
    batch_size=64,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file=train_ann_file,
        data_prefix=dict(img='images/')))
val_dataloader = dict(
    batch_size=32,
    num_workers=4,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file=val_ann_file,
        data_prefix=dict(img='images/'),
        test_mode=True))
test_dataloader = dict(
    batch_size=32,
    num_workers=4,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file=test_ann_file,
        data_prefix=dict(img='images/'),
        test_mode=True))

# evaluators
val_evaluator = dict(type='FaceLandmarkMetric', norm_modes=('pupil', 'ocular'))
test_evaluator = val_evaluator

# hooks
default_hooks = dict(
    checkpoint=dict(save_best='NME_pupil', rule='less', max_keep_ckpts=1,
                    interval=1),
    logger=dict(interval=20))
randomness = dict(seed=21)
