# The student of student.py distilled from the teacher of teacher.py:
#   python tools/train.py configs/ivslab/student_kd.py \
#       --cfg-options teacher_ckpt=work_dirs/teacher/best_NME_pupil_epoch_*.pth
# then tools/convert_kd_ckpt.py turns the result into a student.py checkpoint.
# Same data, schedule and augmentation as student.py; the teacher sees the
# student's 128x128 crops resized to its own 256x256 input.
_base_ = ['./student.py']

# Teacher config: `{{fileDirname}}` is this file's folder, so it resolves
# from any working directory (`pkg::path` and configs/-relative paths work).
teacher_cfg = '{{fileDirname}}/teacher.py'
# None builds a random teacher (with a warning): only for smoke tests.
teacher_ckpt = None

model = dict(
    _delete_=True,
    type='SingleTeacherPoseDistiller',
    student=_base_.model,
    teacher_cfg=teacher_cfg,
    teacher_ckpt=teacher_ckpt,
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
