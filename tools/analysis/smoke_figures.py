"""The figures of ``tools/gpu_smoke.sh``.

    python tools/analysis/smoke_figures.py plan --faces N --batch B --iters I
    python tools/analysis/smoke_figures.py throughput WORK_DIR --batch B
    python tools/analysis/smoke_figures.py latency CONFIG CKPT [--device cuda]
"""
import argparse
import os.path as osp
from typing import List, Optional

import ivslab_plugin  # noqa: F401  (registration, compat fixes)
from ivslab_plugin.analysis.smoke import epochs_for_iters, model_latency, training_throughput


def main(argv: Optional[List[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    sub = parser.add_subparsers(dest='command', required=True)
    plan = sub.add_parser('plan', help='print the epochs that give ITERS steps')
    plan.add_argument('--faces', type=int, required=True)
    plan.add_argument('--batch', type=int, required=True)
    plan.add_argument('--iters', type=int, required=True)
    plan.add_argument('--world-size', type=int, default=1)
    thr = sub.add_parser('throughput', help='training images/s of a run')
    thr.add_argument('work_dir')
    thr.add_argument('--batch', type=int, required=True)
    thr.add_argument('--world-size', type=int, default=1)
    lat = sub.add_parser('latency', help='forward latency of a model')
    lat.add_argument('config')
    lat.add_argument('checkpoint', nargs='?')
    lat.add_argument('--device', default='cuda')
    lat.add_argument('--runs', type=int, default=200)
    args = parser.parse_args(argv)
    if args.command == 'plan':
        print(epochs_for_iters(args.faces, args.batch, args.iters, args.world_size))
    elif args.command == 'throughput':
        res = training_throughput(args.work_dir, args.batch, args.world_size)
        print(f'{args.work_dir}: {res["images_per_s"]:.1f} images/s '
              f'({1e3 * res["step_s"]:.1f} ms per step of {args.batch * args.world_size} '
              f'images, {1e3 * res["data_s"]:.1f} ms of it waiting for data; '
              f'{res["logged_steps"]} logged steps)')
    else:
        res = model_latency(args.config, args.checkpoint, args.device, args.runs)
        print(f'{osp.basename(args.config)} on {args.device}: median {res["median_ms"]:.3f} ms, '
              f'p90 {res["p90_ms"]:.3f} ms (batch 1, fp32, {args.runs} runs)')


if __name__ == '__main__':
    main()
