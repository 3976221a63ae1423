"""Folders of ``.pts`` + images -> an ivslab TSV (51 points; 68 drop the jaw).

    python tools/dataset_converters/pts_to_tsv.py ROOT FOLDER [FOLDER ...] \
        --out annotations/ivslab/train.tsv [--val-out test.tsv --val-every 10]

Image paths are written relative to ROOT (use ROOT as the dataset's image
root). With ``--val-out``, every n-th face goes to the validation file, as
the seed split its data.
"""
import argparse

import ivslab_plugin  # noqa: F401
from ivslab_plugin.datasets import convert_pts_folders, write_tsv


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('root', help='image root that paths are relative to')
    parser.add_argument('folders', nargs='+', help='folders with .pts files')
    parser.add_argument('--out', required=True, help='output TSV')
    parser.add_argument('--val-out', help='optional validation TSV')
    parser.add_argument('--val-every', type=int, default=10,
                        help='every n-th face goes to --val-out')
    args = parser.parse_args()
    rows = convert_pts_folders(args.folders, args.root)
    if args.val_out:
        val = rows[args.val_every - 1::args.val_every]
        train = [r for i, r in enumerate(rows)
                 if (i + 1) % args.val_every != 0]
        print(f'{write_tsv(args.out, train)} faces -> {args.out}, '
              f'{write_tsv(args.val_out, val)} -> {args.val_out}')
    else:
        print(f'{write_tsv(args.out, rows)} faces -> {args.out}')


if __name__ == '__main__':
    main()
