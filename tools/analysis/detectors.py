"""Compare face detectors on labelled faces and fit their box transforms.

    python tools/analysis/detectors.py data/sample --fit-split train \
        --eval-split test --photos-only
"""
import argparse
import os.path as osp

import ivslab_plugin  # noqa: F401
from ivslab_plugin.analysis.detectors import (
    HEADER,
    evaluate_detector,
    fit_transform,
    group_by_image,
)
from ivslab_plugin.datasets.tsv import read_landmark_tsv
from ivslab_plugin.deploy.assets import cached_blazeface
from ivslab_plugin.deploy.lite.detect import BlazeFaceDetector, HaarFaceDetector, ShortThenFull


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('data_root')
    parser.add_argument('--fit-split', default='train')
    parser.add_argument('--eval-split', default='test')
    parser.add_argument('--photos-only', action='store_true',
                        help='evaluate on photos only (skip video frames, '
                        'whose names end in _NNNNN)')
    args = parser.parse_args()

    def faces(split):
        recs = read_landmark_tsv(osp.join(args.data_root, 'annotations', 'ivslab',
                                          f'{split}.tsv'), 51,
                                 osp.join(args.data_root, 'images'))
        return group_by_image(recs)
    fit, ev = faces(args.fit_split), faces(args.eval_split)
    if args.photos_only:
        ev = {k: v for k, v in ev.items()
              if not osp.splitext(k)[0].rsplit('_', 1)[-1].isdigit()}
    detectors = {'haar': HaarFaceDetector()}
    for variant in ('short', 'full'):
        path = cached_blazeface(variant)
        if path:
            detectors[f'blazeface-{variant}'] = BlazeFaceDetector(path)
    print(HEADER)
    for name, det in detectors.items():
        det.box_transform = fit_transform(det, fit)
        print(evaluate_detector(name, det, ev).row(), flush=True)
    if {'blazeface-short', 'blazeface-full'} <= set(detectors):
        # the bundle's default: the two above with their fitted transforms
        auto = ShortThenFull(detectors['blazeface-short'], detectors['blazeface-full'])
        report = evaluate_detector('blazeface-auto', auto, ev)
        report.transform = None  # its boxes are face boxes already
        print(report.row(), flush=True)


if __name__ == '__main__':
    main()
