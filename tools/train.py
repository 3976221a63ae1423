"""Train a model: ``python tools/train.py CONFIG [options]``."""
import argparse

from mmengine.config import DictAction

import ivslab_plugin  # noqa: F401  (compatibility fixes, registration)
from ivslab_plugin.training import load_config, train, train_config


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a landmark model')
    parser.add_argument('config', help='config file')
    parser.add_argument('--work-dir', help='where logs and checkpoints go')
    parser.add_argument(
        '--resume', nargs='?', const='auto',
        help='resume from this checkpoint, or from the latest one in the '
        'work dir when no path is given')
    parser.add_argument('--amp', action='store_true',
                        help='automatic mixed precision (GPU)')
    parser.add_argument('--no-validate', action='store_true',
                        help='skip validation during training')
    parser.add_argument('--auto-scale-lr', action='store_true',
                        help='scale the lr with the total batch size')
    parser.add_argument('--tensorboard', action='store_true',
                        help='also log losses and metrics for TensorBoard '
                        '(<work-dir>/<timestamp>/vis_data; needs the tensorboard package)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, key=value (for example '
        'data_root=data/sample/ train_dataloader.batch_size=8)')
    parser.add_argument('--launcher', default='none',
                        choices=['none', 'pytorch', 'slurm', 'mpi'])
    # torchrun passes --local-rank to older launch wrappers.
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    return parser.parse_args()


if __name__ == '__main__':
    args = parse_args()
    cfg = load_config(args.config, args.work_dir, args.cfg_options, args.launcher,
                      local_rank=args.local_rank)
    train(train_config(cfg, args.resume, args.amp, not args.no_validate,
                       args.auto_scale_lr, args.tensorboard))
