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
    # this file's folder, so the teacher config resolves from any working directory
    teacher_cfg='{{fileDirname}}/teacher.py',
    # required (path or URL): None is an error unless allow_random_teacher=True (smoke tests)
    teacher_ckpt=None,
    allow_random_teacher=False,
    # the teacher's SimCC distributions as the student codec's Gaussians, matched with MSE
    logit_loss=dict(
        type='LogitDistillLoss',
        loss_weight=1.0,
        temperature=1.0,
        simcc_beta=10.0,
        heatmap_sigma=_base_.codec['sigma']),
    # optional FeatureDistillLoss (student 112 ch, teacher 768 or 192); set it with _delete_=True
    feature_loss=None,
    task_loss_weight=1.0,
    distill_decay=dict(type='constant'))
