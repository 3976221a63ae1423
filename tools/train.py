"""Train a model: ``python tools/train.py CONFIG [options]``."""
import argparse

import ivslab_plugin  # noqa: F401  (compatibility fixes, registration)
from ivslab_plugin.apis import add_common_args, train


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Train a landmark model')
    parser.add_argument('config', help='config file')
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
    add_common_args(parser)
    return parser.parse_args()


if __name__ == '__main__':
    train(parse_args())
