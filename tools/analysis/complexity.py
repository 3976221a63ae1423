"""Multiply-adds and parameters of a config's model:
``python tools/analysis/complexity.py CONFIG [--shape W H]``."""
import argparse

from mmengine.config import Config

import ivslab_plugin  # noqa: F401  (compatibility fixes, registration)
from ivslab_plugin.analysis.complexity import model_complexity


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('config', help='config file')
    parser.add_argument('--shape', type=int, nargs=2, metavar=('W', 'H'),
                        help='input size; defaults to the config\'s input_size')
    return parser.parse_args()


if __name__ == '__main__':
    args = parse_args()
    res = model_complexity(Config.fromfile(args.config), args.shape)
    w, h = res['input_size']
    print(f'input      {w}x{h}')
    print(f'GFLOPs     {res["gmacs"]:.4f}  (multiply-adds, as MMEngine counts them)')
    print(f'params     {res["mparams"]:.4f} M')
