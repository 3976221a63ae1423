# The student of student.py distilled from the teacher of teacher.py:
#   python tools/train.py configs/ivslab/student_kd.py \
#       --cfg-options model.teacher_ckpt=work_dirs/teacher/best_NME_pupil_epoch_N.pth
# (`model.teacher_ckpt=` works the same through MMPose's tools/train.py and
# `mim train mmpose`; without a checkpoint the model refuses to build.)
# then tools/convert_kd_ckpt.py turns the result into a student.py checkpoint.
# Same data, schedule and augmentation as student.py; the teacher sees the
# student's 128x128 crops resized to its own 256x256 input.
_base_ = ['./student.py']

model = dict(
    _delete_=True,
    type='SingleTeacherPoseDistiller',
    student=_base_.model,
    # `{{fileDirname}}` is this file's folder, so the teacher config resolves
    # from any working directory (`pkg::path` and configs/-relative paths
    # work too). Override with model.teacher_cfg=...
    teacher_cfg='{{fileDirname}}/teacher.py',
    # Required: the teacher's trained checkpoint (path or URL). None is an
    # error unless allow_random_teacher=True (smoke tests only).
    teacher_ckpt=None,
    allow_random_teacher=False,
    # The teacher's SimCC distributions are rendered as the student codec's
    # Gaussians (sigma 2 on the 32x32 grid) and matched with MSE.
    logit_loss=dict(
        type='LogitDistillLoss',
        loss_weight=1.0,
        temperature=1.0,
        simcc_beta=10.0,
        heatmap_sigma=_base_.codec['sigma']),
    # Optional: feature distillation from the teacher's last stage (768 ch,
    # 8x8; 192 for teacher_cpu.py) to the student's (112 ch, 8x8), e.g.
    # feature_loss=dict(type='FeatureDistillLoss', student_channels=112,
    #                   teacher_channels=768, loss_weight=1e-2, normalize=True),
    # (a child config needs `_delete_=True` in that dict: the default is None)
    feature_loss=None,
    task_loss_weight=1.0,
    distill_decay=dict(type='constant'))
