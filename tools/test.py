"""Test a checkpoint: ``python tools/test.py CONFIG CHECKPOINT [options]``."""
import argparse

import ivslab_plugin  # noqa: F401  (compatibility fixes, registration)
from ivslab_plugin.apis import add_common_args, test


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description='Test a landmark model')
    parser.add_argument('config', help='config file')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--out', help='write the metrics to this JSON file')
    parser.add_argument('--dump', help='dump raw predictions to this .pkl')
    add_common_args(parser)
    return parser.parse_args()


if __name__ == '__main__':
    test(parse_args())
