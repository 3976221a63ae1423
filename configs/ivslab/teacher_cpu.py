# A heatmap teacher that converges on a CPU: CSPNeXt-t (RTMPose-t size) at
# the student's 128x128 input with 64x64 heatmaps and DARK (unbiased)
# encoding/decoding, so its landmarks are sub-pixel. Same data, augmentation
# and recipe as student.py. teacher.py (RTMPose-m, SimCC, 256x256) is the
# accurate teacher for GPUs; this one is for tools/analysis/kd_benchmark.py and
# the quickstart, where RTMPose-m from scratch does not converge in CPU time.
_base_ = ['./student.py']

codec = dict(
    type='MSRAHeatmap', input_size=_base_.input_size, heatmap_size=(64, 64), sigma=4,
    unbiased=True)

model = dict(
    backbone=dict(deepen_factor=0.167, widen_factor=0.375),
    head=dict(in_channels=192, mid_channels=(256, 128, 64), decoder=codec))

# student.py's pipeline with this codec's targets
train_pipeline = [*_base_.train_pipeline[:-2], dict(type='GenerateTarget', encoder=codec),
                  dict(type='PackPoseInputs')]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
