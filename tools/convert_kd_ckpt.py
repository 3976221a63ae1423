"""Distillation checkpoint -> student checkpoint:
``python tools/convert_kd_ckpt.py KD_CKPT OUT.pth``; the result loads with
``configs/ivslab/student.py`` in tools/test.py and export."""
import argparse

import ivslab_plugin  # noqa: F401  (compatibility fixes, registration)
from ivslab_plugin.training.kd_checkpoint import convert_kd_checkpoint


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('checkpoint', help='checkpoint of a distillation run')
    parser.add_argument('out', help='student checkpoint to write')
    return parser.parse_args()


if __name__ == '__main__':
    args = parse_args()
    state = convert_kd_checkpoint(args.checkpoint, args.out)
    print(f'wrote {len(state)} student tensors to {args.out}')
