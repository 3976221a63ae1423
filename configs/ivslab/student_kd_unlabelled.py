# student_kd.py plus unlabelled faces: every batch mixes the labelled
# training set with a TSV whose rows have boxes but no landmarks. Those
# samples get only the distillation loss (their keypoint weights are zero).
#   python tools/train.py configs/ivslab/student_kd_unlabelled.py --cfg-options \
#       teacher_ckpt=... unlabelled_ann_file=annotations/ivslab/test_q.tsv
# (tools/build_sample_data.py --unlabelled-step 5 writes such a file for the
# sample data: annotations/ivslab/unlabelled.tsv)
_base_ = ['./student_kd.py']

unlabelled_ann_file = 'annotations/ivslab/unlabelled.tsv'

train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type='ConcatDataset',
        datasets=[
            dict(
                type=_base_.dataset_type,
                data_root=_base_.data_root,
                ann_file=_base_.train_ann_file,
                data_prefix=dict(img='images/'),
                metainfo=_base_.metainfo,
                pipeline=_base_.train_pipeline),
            dict(
                type=_base_.dataset_type,
                data_root=_base_.data_root,
                ann_file=unlabelled_ann_file,
                data_prefix=dict(img='images/'),
                metainfo=_base_.metainfo,
                labelled=False,
                pipeline=_base_.train_pipeline),
        ]))
