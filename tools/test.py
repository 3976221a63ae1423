"""Test a checkpoint: ``python tools/test.py CONFIG CHECKPOINT [options]``."""
import argparse

from mmengine.config import DictAction

import ivslab_plugin  # noqa: F401  (compatibility fixes, registration)
from ivslab_plugin.training import load_config, test


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test a landmark model')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='where logs go')
    parser.add_argument('--out', help='write the metrics to this JSON file')
    parser.add_argument('--dump', help='dump raw predictions to this .pkl')
    parser.add_argument(
        '--show-dir', help='save images with drawn predictions here '
        '(relative to the run\'s log folder)')
    parser.add_argument('--interval', type=int, default=1,
                        help='draw every n-th sample with --show-dir')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, key=value (for example '
        'data_root=data/sample/ test_dataloader.batch_size=8)')
    parser.add_argument('--launcher', default='none',
                        choices=['none', 'pytorch', 'slurm', 'mpi'])
    # torchrun passes --local-rank to older launch wrappers.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser.parse_args()


if __name__ == '__main__':
    args = parse_args()
    cfg = load_config(args.config, args.work_dir, args.cfg_options, args.launcher,
                      args.show_dir, args.interval, args.local_rank)
    test(cfg, args.checkpoint, args.out, args.dump)
