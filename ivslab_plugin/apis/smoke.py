"""Measurements for ``tools/gpu_smoke.sh``: training throughput from a run's
log and the latency of a model on a device.

    python -m ivslab_plugin.apis.smoke plan --faces N --batch B --iters I
    python -m ivslab_plugin.apis.smoke throughput WORK_DIR --batch B
    python -m ivslab_plugin.apis.smoke latency CONFIG CKPT [--device cuda]
"""
from __future__ import annotations

import argparse
import glob
import json
import math
import os.path as osp
import statistics
import time
from typing import Dict, List, Optional

#: Logged iterations skipped before timing (data loader start, cuDNN tuning).
WARMUP_LOGS = 2


def epochs_for_iters(faces: int, batch_size: int, iters: int, world_size: int = 1) -> int:
    """Epochs that give at least ``iters`` optimiser steps (the configs are
    epoch-based; an epoch is ``ceil(faces / (batch * world_size))`` steps)."""
    if faces <= 0 or batch_size <= 0 or iters <= 0:
        raise ValueError(f'faces, batch and iters must be positive, got '
                         f'{faces}, {batch_size}, {iters}')
    per_epoch = math.ceil(faces / (batch_size * world_size))
    return math.ceil(iters / per_epoch)


def training_throughput(work_dir: str, batch_size: int,
                        world_size: int = 1) -> Dict[str, float]:
    """Images per second of a finished run, from MMEngine's ``scalars.json``.

    ``time`` there is the mean wall time per step since the last log line
    (data loading included) and ``data_time`` the part of it spent waiting
    for the data loader; the first ``WARMUP_LOGS`` entries are skipped.

    Raises:
        FileNotFoundError: no ``vis_data/scalars.json`` under ``work_dir``.
        ValueError: too few logged training steps to time.
    """
    found = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    if not found:
        raise FileNotFoundError(f'no */vis_data/scalars.json in {work_dir}')
    times: List[float] = []
    data_times: List[float] = []
    with open(found[-1]) as f:
        for line in f:
            row = json.loads(line)
            if 'time' in row and 'loss' in row:  # training steps, not validation
                times.append(float(row['time']))
                data_times.append(float(row['data_time']))
    if len(times) <= WARMUP_LOGS:
        raise ValueError(f'{found[-1]}: {len(times)} logged training steps, need more '
                         f'than {WARMUP_LOGS} to time (lower default_hooks.logger.interval)')
    step = statistics.mean(times[WARMUP_LOGS:])
    return dict(step_s=step, images_per_s=batch_size * world_size / step,
                data_s=statistics.mean(data_times[WARMUP_LOGS:]),
                logged_steps=len(times) - WARMUP_LOGS)


def model_latency(config: str, checkpoint: Optional[str], device: str = 'cuda',
                  runs: int = 200, warmup: int = 20, batch: int = 1) -> Dict[str, float]:
    """Median wall time of the deployed model's forward (``tensor`` mode, the
    exported graph) on ``device``, fp32, at the config's input size."""
    import torch
    from mmengine.config import Config
    from mmengine.runner.checkpoint import load_checkpoint

    from ivslab_plugin.deploy.model import load_estimator

    cfg = Config.fromfile(config)
    model = load_estimator(cfg)
    if checkpoint:
        load_checkpoint(model, checkpoint, map_location='cpu')
    model = model.to(device).eval()
    w, h = cfg.input_size
    x = torch.randn(batch, 3, h, w, device=device)
    sync = torch.cuda.synchronize if device.startswith('cuda') else (lambda: None)
    samples = []
    with torch.no_grad():
        for i in range(warmup + runs):
            sync()
            start = time.perf_counter()
            model(x, None, mode='tensor')
            sync()
            if i >= warmup:
                samples.append(time.perf_counter() - start)
    return dict(median_ms=1e3 * statistics.median(samples),
                p90_ms=1e3 * sorted(samples)[int(0.9 * (len(samples) - 1))],
                runs=runs, batch=batch)


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
        import ivslab_plugin  # noqa: F401  (registration, compat fixes)
        res = model_latency(args.config, args.checkpoint, args.device, args.runs)
        print(f'{osp.basename(args.config)} on {args.device}: median {res["median_ms"]:.3f} ms, '
              f'p90 {res["p90_ms"]:.3f} ms (batch 1, fp32, {args.runs} runs)')


if __name__ == '__main__':
    main()
