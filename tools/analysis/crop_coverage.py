"""Share of faces and landmarks outside a config's crop, at test time and
under its training augmentation (sampled with MMPose's own transforms; no
images needed):
``python tools/analysis/crop_coverage.py ANN_FILE --config CFG
[--paddings 1.25 1.5 ...] [--draws 20] [--max-test-faces 0.5]
[--max-train-landmarks 1.0]``.

Exits non-zero, with the numbers, when a given limit is exceeded."""
import argparse
import sys

from mmengine.config import Config, DictAction

import ivslab_plugin  # noqa: F401  (compatibility fixes, registration)
from ivslab_plugin.analysis.crop_coverage import (
    check_limits,
    config_pipelines,
    crop_coverage,
    format_coverage,
)
from ivslab_plugin.datasets.tsv import read_landmark_tsv


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('ann_file', help='labelled TSV (images not needed)')
    parser.add_argument('--config', required=True, help='model config')
    parser.add_argument('--paddings', type=float, nargs='+',
                        help='box paddings to measure instead of the '
                        "config's bbox_padding")
    parser.add_argument('--draws', type=int, default=20,
                        help='training crops drawn per face')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--num-keypoints', type=int, default=51)
    parser.add_argument('--test-only', action='store_true',
                        help='skip the training pipelines')
    parser.add_argument('--max-test-faces', type=float,
                        help='fail above this %% of faces losing a landmark '
                        'in the test crop')
    parser.add_argument('--max-train-landmarks', type=float,
                        help='fail above this %% of landmarks outside the '
                        'training crops')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    records = read_landmark_tsv(args.ann_file, args.num_keypoints,
                                check_images=False)
    rows = []
    for padding in args.paddings or [None]:
        for name, pipeline in config_pipelines(cfg):
            if args.test_only and name != 'test':
                continue
            draws = 1 if name == 'test' else args.draws
            rows.append(crop_coverage(records, pipeline, name, padding,
                                      draws, args.seed))
    print(format_coverage(rows))
    for row in rows:
        if row.name == 'test' and row.lines_out:
            print(f'padding {row.padding:g}: lines of faces losing a landmark '
                  f'in the test crop: {row.lines_out}')
    problems = check_limits(rows, args.max_test_faces,
                            args.max_train_landmarks)
    for problem in problems:
        print(f'LIMIT EXCEEDED: {problem}', file=sys.stderr)
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
