"""NME of models' landmarks against the first model's (e.g. the teacher) and
the labels, on the faces of one annotation file:
``python tools/analysis/kd_agreement.py ANN_FILE --model NAME CONFIG CKPT
[--model ...] [--unlabelled] [--contains STR] [--every N]``."""
import argparse
import os.path as osp

import numpy as np

import ivslab_plugin  # noqa: F401  (compatibility fixes, registration)
from ivslab_plugin.analysis.agreement import (
    agreement,
    format_agreement,
    parse_models,
    predict_landmarks,
    select_records,
)
from ivslab_plugin.datasets.tsv import read_landmark_tsv
from ivslab_plugin.evaluation.face_metric import NORMALISERS


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('ann_file', help='TSV, relative to --data-root')
    parser.add_argument('--data-root', default='data/ivslab')
    parser.add_argument('--model', nargs=3, action='append', required=True,
                        metavar=('NAME', 'CONFIG', 'MODEL'),
                        help='repeat; the first is the reference. MODEL: a .pth '
                        'checkpoint or an exported model (.onnx, .ncnn.param, '
                        '.tflite, or its work directory)')
    parser.add_argument('--unlabelled', action='store_true',
                        help='the file\'s landmark columns are dummies: no GT column')
    parser.add_argument('--contains', help='only images whose path contains this')
    parser.add_argument('--every', type=int, default=1, help='every N-th selected row')
    parser.add_argument('--markup', default='ivslab', choices=sorted(NORMALISERS))
    parser.add_argument('--num-keypoints', type=int, default=51)
    parser.add_argument('--device', default='cpu')
    return parser.parse_args()


if __name__ == '__main__':
    args = parse_args()
    path = osp.join(args.data_root, args.ann_file)
    records = read_landmark_tsv(path, args.num_keypoints,
                                image_root=osp.join(args.data_root, 'images'),
                                labelled=not args.unlabelled)
    records = select_records(records, path, args.contains, args.every)
    preds = {name: predict_landmarks(cfg, ckpt, records, args.device)
             for name, cfg, ckpt in parse_models(args.model)}
    labels = None if args.unlabelled else np.stack([r.keypoints for r in records])
    rows = agreement(preds, NORMALISERS[args.markup]['pupil'], labels)
    print(format_agreement(rows, len(records)))
