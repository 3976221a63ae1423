"""The efficiency report: every model on every installed runtime.

``python tools/analysis/benchmark.py --model NAME CONFIG CKPT [--model ...]
[--int8 NAME] [--data-root DIR] [--work-dir DIR]``; prints one table (NME,
parameters, GFLOPs, file size, single-thread latency) and writes a Pareto
plot. See docs/embedded.md.
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

import ivslab_plugin  # noqa: F401  (compat fixes, registration)
from ivslab_plugin.analysis.benchmark import ModelSpec, benchmark_report
from ivslab_plugin.deploy.convert.registry import RUNTIMES
from ivslab_plugin.deploy.verify.accuracy import INT8_LIMIT


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        description='Export models to every installed runtime (ONNX '
        'Runtime, ncnn, LiteRT, INT8) and print one table: NME, parameters, '
        'GFLOPs, file size, single-thread latency and its ratio to PyTorch')
    parser.add_argument('--model', nargs=3, action='append', required=True,
                        metavar=('NAME', 'CONFIG', 'CHECKPOINT'),
                        help='a model to benchmark (repeatable)')
    parser.add_argument('--int8', nargs='+', default=[], metavar='NAME',
                        help='models (by NAME) to also quantize to INT8')
    parser.add_argument('--runtimes', nargs='+', default=list(RUNTIMES),
                        choices=RUNTIMES, help='runtimes besides PyTorch '
                        '(default: all; missing packages are skipped)')
    parser.add_argument('--data-root', help='dataset root: the train split '
                        'calibrates INT8, the test split gives NME')
    parser.add_argument('--work-dir', default='work_dirs/benchmark')
    parser.add_argument('--num-calib', type=int, default=128,
                        help='calibration faces for INT8')
    parser.add_argument('--keep-head-fp32', choices=['no', 'yes', 'both'],
                        default='both', help='INT8: leave the head in fp32 '
                        '(both: one row each)')
    parser.add_argument('--warmup', type=int, default=20)
    parser.add_argument('--runs', type=int, default=200)
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--max-eval-faces', type=int)
    parser.add_argument('--int8-limit', type=float, default=INT8_LIMIT,
                        help='INT8 rows more than this fraction above their '
                        'fp32 NME_pupil are marked FAILED and the command '
                        'exits 1 (default %(default)s)')
    args = parser.parse_args(argv)

    names = [m[0] for m in args.model]
    unknown = set(args.int8) - set(names)
    if unknown:
        parser.error(f'--int8 names unknown models {sorted(unknown)} '
                     f'(models: {names})')
    for _, cfg, ckpt in args.model:
        for path in (cfg, ckpt):
            if not osp.isfile(path):
                parser.error(f'file not found: {path}')
    specs = [ModelSpec(n, c, k, n in args.int8) for n, c, k in args.model]
    return benchmark_report(specs, args.work_dir, args.runtimes, data_root=args.data_root,
                            num_calib=args.num_calib, keep_head_fp32=args.keep_head_fp32,
                            warmup=args.warmup, runs=args.runs, rounds=args.rounds,
                            max_eval_faces=args.max_eval_faces, int8_limit=args.int8_limit)


if __name__ == '__main__':
    sys.exit(main())
