# student_kd.py plus unlabelled faces: a TSV whose rows have boxes but no
# landmarks. Every step takes student.py's batch of labelled faces plus as
# many unlabelled ones (MultiSourceBatchSampler, source_ratio 1:1), and an
# epoch is one pass over the labelled faces, so the labelled schedule is the
# student alone's; the unlabelled faces get only the distillation loss (their
# keypoint weights are zero).
#   python tools/train.py configs/ivslab/student_kd_unlabelled.py --cfg-options \
#       model.teacher_ckpt=... unlabelled_ann_file=annotations/ivslab/test_q.tsv
# (tools/build_sample_data.py --unlabelled-step 5 writes such a file for the
# sample data: annotations/ivslab/unlabelled.tsv)
_base_ = ['./student_kd.py']

unlabelled_ann_file = 'annotations/ivslab/unlabelled.tsv'

train_dataloader = dict(
    # 64 labelled (student.py's batch) + 64 unlabelled faces per step
    batch_size=_base_.train_dataloader.batch_size * 2,
    batch_sampler=dict(type='MultiSourceBatchSampler', source_ratio=[1, 1]),
    dataset=dict(
        _delete_=True,
        type='ConcatDataset',
        datasets=[
            dict(
                type=_base_.dataset_type,
                data_root=_base_.data_root,
                ann_file=_base_.train_ann_file,
                data_prefix=dict(img='images/'),
                pipeline=_base_.train_pipeline),
            dict(
                type=_base_.dataset_type,
                data_root=_base_.data_root,
                ann_file=unlabelled_ann_file,
                data_prefix=dict(img='images/'),
                labelled=False,
                pipeline=_base_.train_pipeline),
        ]))
