"""Measurements for ``tools/gpu_smoke.sh`` (through
``tools/analysis/smoke_figures.py``): the schedule for a number of steps,
training throughput from a run's log and the latency of a model on a
device."""
from __future__ import annotations

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
