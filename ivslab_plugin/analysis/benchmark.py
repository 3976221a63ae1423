"""The efficiency report: accuracy, size, compute and latency of every model
on every installed runtime, side by side (``tools/analysis/benchmark.py``).

Latency is the raw network on one crop (batch 1, one thread in every
runtime), without cropping or decoding, which are the same for all
runtimes. Runners are timed round-robin in blocks so that a change in the
machine's load hits every runtime alike, and every ratio is to PyTorch eager
measured in the same run.
"""
from __future__ import annotations

import json
import os
import os.path as osp
import platform
import time
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from ivslab_plugin.deploy.configs import load_cfg
from ivslab_plugin.deploy.convert.ort_int8 import REPORT_NAME, Int8Report
from ivslab_plugin.deploy.convert.registry import (
    RUNTIMES,
    export_runtime,
    make_runner,
    missing_packages,
    model_size_mb,
    target,
)
from ivslab_plugin.deploy.data import calibration_crops
from ivslab_plugin.deploy.model import Runner, crop_shape, load_estimator, torch_runner
from ivslab_plugin.deploy.verify.accuracy import (
    INT8_LIMIT,
    cpu_flags,
    evaluate_runner,
    within_limit,
)

from .complexity import model_complexity


@dataclass
class ModelSpec:
    """A model to benchmark: a name, its config and checkpoint, and whether
    to add its INT8 variants."""

    name: str
    config: str
    checkpoint: str
    int8: bool = False


@dataclass
class Row:
    """One model on one runtime."""

    model: str
    runtime: str
    precision: str
    file: str
    size_mb: float
    mparams: float
    gflops: float
    metrics: Dict[str, float] = field(default_factory=dict)
    median_ms: float = float('nan')
    p90_ms: float = float('nan')
    vs_pytorch: float = float('nan')
    note: str = ''
    status: str = ''  # 'FAILED': an INT8 row above the limit
    float_nodes: List[str] = field(default_factory=list)  # INT8: kept in float


@dataclass
class Conditions:
    """How the latencies were measured."""

    threads: int
    warmup: int
    runs: int
    rounds: int
    cpu_count: int
    cpu: str
    load_before: Tuple[float, float, float]
    load_after: Tuple[float, float, float] = (0., 0., 0.)
    versions: Dict[str, str] = field(default_factory=dict)
    cpu_flags: List[str] = field(default_factory=cpu_flags)

    def line(self) -> str:
        fmt = ' '.join(f'{x:.2f}' for x in self.load_before)
        fmt2 = ' '.join(f'{x:.2f}' for x in self.load_after)
        return (f'latency: batch 1, {self.threads} thread per runtime, '
                f'{self.warmup} warm-up + {self.runs} timed runs per runtime '
                f'in {self.rounds} round-robin blocks, network only (no crop '
                f'or decoding); {self.cpu_count} CPUs ({self.cpu}; '
                f'{", ".join(self.cpu_flags) or "no VNNI"}); load '
                f'average (1/5/15 min) before {fmt}, after {fmt2}')


def latencies(runners: Dict[str, Runner], inputs: np.ndarray, warmup: int,
              runs: int, rounds: int) -> Dict[str, Tuple[float, float]]:
    """(median, p90) milliseconds per call of each runner.

    Args:
        runners: name -> runner.
        inputs: one (1, 3, H, W) crop.
        warmup: untimed calls per runner first.
        runs: timed calls per runner, split into ``rounds`` round-robin
            blocks.
    """
    times: Dict[str, List[float]] = {name: [] for name in runners}
    for run in runners.values():
        for _ in range(warmup):
            run(inputs)
    per_block = max(1, runs // rounds)
    for _ in range(rounds):
        for name, run in runners.items():
            for _ in range(per_block):
                start = time.perf_counter()
                run(inputs)
                times[name].append(1000 * (time.perf_counter() - start))
    return {name: (float(np.median(t)), float(np.percentile(t, 90)))
            for name, t in times.items()}


def _versions() -> Dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version
    out = {}
    for pkg in ('torch', 'onnxruntime', 'ncnn', 'pnnx', 'ai-edge-litert',
                'litert-torch', 'ai-edge-quantizer'):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def _cpu_name() -> str:
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or 'unknown CPU'


def run_benchmark(models: Sequence[ModelSpec], work_dir: str,
                  runtimes: Sequence[str] = RUNTIMES,
                  data_root: Optional[str] = None,
                  num_calib: int = 128,
                  keep_head_fp32: str = 'both',
                  warmup: int = 20, runs: int = 200, rounds: int = 5,
                  max_eval_faces: Optional[int] = None,
                  int8_limit: float = INT8_LIMIT,
                  log=print) -> Tuple[List[Row], Conditions]:
    """Export every model to every runtime, evaluate, and time.

    Args:
        models: the models (INT8 rows only for those with ``int8``).
        work_dir: exports go to ``work_dir/<model>/<runtime>``.
        runtimes: runtimes to include besides PyTorch; ones whose packages
            are missing are skipped with a logged reason.
        data_root: dataset root (``train`` split for calibration, ``test``
            for NME); without it, no NME and calibration on the config's
            default data root.
        num_calib: calibration faces for INT8.
        keep_head_fp32: ``'no'``, ``'yes'`` or ``'both'`` (one INT8 row
            each).
        warmup, runs, rounds: see :func:`latencies`.
        max_eval_faces: evaluate on the first N test faces only.
        int8_limit: an INT8 row whose NME_pupil is more than this fraction
            above its model's PyTorch fp32 NME is marked ``FAILED``.
        log: progress output.

    Returns:
        (rows, conditions).
    """
    if keep_head_fp32 not in ('no', 'yes', 'both'):
        raise ValueError(f"keep_head_fp32 must be 'no', 'yes' or 'both', "
                         f'got {keep_head_fp32!r}')
    head_modes = {'no': [False], 'yes': [True],
                  'both': [False, True]}[keep_head_fp32]
    usable = []
    for runtime in runtimes:
        missing = missing_packages(runtime)
        if missing:
            log(f'skipping {runtime}: {", ".join(missing)} not installed')
        else:
            usable.append(runtime)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    cond = Conditions(1, warmup, runs, rounds, os.cpu_count() or 0,
                      _cpu_name(), os.getloadavg(), versions=_versions())
    rows: List[Row] = []
    try:
        for spec in models:
            cfg = load_cfg(spec.config)
            comp = model_complexity(cfg)
            model_dir = osp.join(work_dir, spec.name)
            os.makedirs(model_dir, exist_ok=True)
            estimator = load_estimator(cfg, spec.checkpoint)
            weights = osp.join(model_dir, 'pytorch', 'weights.pth')
            os.makedirs(osp.dirname(weights), exist_ok=True)
            # the weights alone: a training checkpoint also holds the
            # optimizer state, which no deployment ships
            torch.save(estimator.state_dict(), weights)
            entries: List[Tuple[Row, Runner]] = [
                (Row(spec.name, 'pytorch', 'fp32', weights,
                     os.path.getsize(weights) / 1e6, comp['mparams'],
                     comp['gmacs']), torch_runner(estimator))
            ]
            crops = None
            for runtime in usable:
                int8 = target(runtime).int8
                if int8 and not spec.int8:
                    continue
                if int8 and crops is None:
                    start = time.perf_counter()
                    crops = calibration_crops(cfg, data_root, num_calib)
                    log(f'{spec.name}: {len(crops)} calibration crops from '
                        f'the training split '
                        f'({time.perf_counter() - start:.1f} s)')
                for head in (head_modes if int8 else [False]):
                    label = runtime + ('-head-fp32' if head else '')
                    start = time.perf_counter()
                    path = export_runtime(runtime, cfg, spec.checkpoint,
                                          osp.join(model_dir, label), crops,
                                          keep_head_fp32=head)
                    log(f'{spec.name}: {label} exported to {path} in '
                        f'{time.perf_counter() - start:.1f} s')
                    note, float_nodes = _int8_note(path, head)
                    row = Row(spec.name, label, 'int8' if int8 else 'fp32',
                              path, model_size_mb(path), comp['mparams'],
                              comp['gmacs'], note=note, float_nodes=float_nodes)
                    entries.append((row, make_runner(path, num_threads=1)))
            if data_root is not None:
                for row, runner in entries:
                    start = time.perf_counter()
                    row.metrics = evaluate_runner(runner, cfg, data_root,
                                                  max_faces=max_eval_faces)
                    log(f'{spec.name}: {row.runtime} NME_pupil '
                        f'{row.metrics["NME_pupil"]:.4f} '
                        f'({time.perf_counter() - start:.1f} s)')
                base = entries[0][0].metrics['NME_pupil']
                for row, _ in entries:
                    if row.precision == 'int8' and not within_limit(
                            base, row.metrics['NME_pupil'], int8_limit):
                        row.status = 'FAILED'
                        log(f'{spec.name}: {row.runtime} FAILED the INT8 check: '
                            f'NME_pupil {row.metrics["NME_pupil"]:.4f} vs fp32 '
                            f'{base:.4f} (limit +{100 * int8_limit:.0f} %)')
            x = np.random.default_rng(0).standard_normal(
                crop_shape(cfg)).astype(np.float32)
            timed = latencies({r.runtime: run for r, run in entries}, x,
                              warmup, runs, rounds)
            ref = timed['pytorch'][0]
            for row, _ in entries:
                row.median_ms, row.p90_ms = timed[row.runtime]
                row.vs_pytorch = row.median_ms / ref
                rows.append(row)
    finally:
        torch.set_num_threads(threads)
    cond.load_after = os.getloadavg()
    return rows, cond


def _int8_note(path: str, head: bool) -> Tuple[str, List[str]]:
    """What an export left in float: ONNX Runtime INT8's
    ``int8_report.json`` (the SQNR fallback) gives a count and the nodes;
    otherwise the head, or nothing."""
    report = osp.join(osp.dirname(path), REPORT_NAME)
    if osp.isfile(report):
        r = Int8Report.load(report)
        return f'{len(r.float_nodes)} of {r.total_nodes} nodes float', r.float_nodes
    return ('head fp32' if head else ''), []


def format_table(rows: Sequence[Row], metric: str = 'NME_pupil') -> str:
    """A markdown table of the rows; INT8 rows also give their NME relative
    to the same model's PyTorch fp32 NME."""
    ref = {r.model: r.metrics.get(metric) for r in rows
           if r.runtime == 'pytorch'}
    head = (f'| model | runtime | prec. | {metric} | vs fp32 | params (M) | '
            'GFLOPs | file (MB) | median (ms) | p90 (ms) | x PyTorch | note, check |')
    lines = [head, '|' + '---|' * 12]
    for r in rows:
        nme = r.metrics.get(metric)
        base = ref.get(r.model)
        rel = (f'{100 * (nme / base - 1):+.1f} %' if nme is not None
               and base and r.runtime != 'pytorch' else '')
        lines.append(
            f'| {r.model} | {r.runtime} | {r.precision} | '
            + (f'{nme:.4f}' if nme is not None else '-')
            + f' | {rel} | {r.mparams:.3f} | {r.gflops:.4f} | '
            f'{r.size_mb:.3f} | {r.median_ms:.3f} | {r.p90_ms:.3f} | '
            f'{r.vs_pytorch:.2f} | {r.note}{" **FAILED**" if r.status else ""} |')
    kept = [f'- {r.model} {r.runtime}: {", ".join(r.float_nodes)}'
            for r in rows if r.float_nodes]
    if kept:
        lines += ['', 'Nodes the INT8 exports kept in float:', *kept]
    return '\n'.join(lines)


def pareto_plot(rows: Sequence[Row], out_png: str,
                metric: str = 'NME_pupil') -> Optional[str]:
    """NME against GFLOPs, bubble area proportional to the file size, with
    the Pareto front (lower NME and fewer GFLOPs); None without NME."""
    pts = [r for r in rows if metric in r.metrics and not r.status]
    if not pts:
        return None
    import matplotlib
    matplotlib.use('Agg')  # no display: write the file only
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(8, 5.5))
    colours = plt.rcParams['axes.prop_cycle'].by_key()['color']
    names = list(dict.fromkeys(r.runtime for r in pts))
    biggest = max(r.size_mb for r in pts)
    # largest bubbles first, so the smaller ones stay visible on top
    for r in sorted(pts, key=lambda r: -r.size_mb):
        ax.scatter(r.gflops, r.metrics[metric],
                   s=30 + 2000 * r.size_mb / biggest,
                   color=colours[names.index(r.runtime) % len(colours)],
                   alpha=0.5, edgecolors='k', linewidths=0.5)
    # one label per model: its runtimes share the point (same network)
    top = 1.25 * max(r.metrics[metric] for r in pts)
    for model in dict.fromkeys(r.model for r in pts):
        group = [r for r in pts if r.model == model]
        low = group[0].metrics[metric] < top / 2
        text = model + '\n' + '\n'.join(
            f'{r.runtime}: {r.metrics[metric]:.4f}, {r.size_mb:.2f} MB'
            for r in group)
        ax.annotate(text, (group[0].gflops, group[0].metrics[metric]),
                    fontsize=6, xytext=(12, 0), textcoords='offset points',
                    va='bottom' if low else 'top')
    for name in names:
        ax.scatter([], [], color=colours[names.index(name) % len(colours)],
                   alpha=0.5, label=name)
    front, best = [], float('inf')
    for r in sorted(pts, key=lambda r: (r.gflops, r.metrics[metric])):
        if r.metrics[metric] < best:
            best = r.metrics[metric]
            front.append(r)
    ax.step([r.gflops for r in front], [r.metrics[metric] for r in front],
            where='post', color='grey', linestyle='--', label='Pareto front')
    lo = min(r.gflops for r in pts)
    hi = max(r.gflops for r in pts)
    ax.set_xlim(lo / 2, hi * 8)  # room for the labels on the right
    ax.set_ylim(0, top)
    ax.set(xscale='log', xlabel='GFLOPs (multiply-adds, MMEngine count)',
           ylabel=metric,
           title='accuracy vs compute (bubble area: model file size)')
    ax.grid(alpha=0.3, which='both')
    ax.legend(fontsize=7)
    fig.tight_layout()
    os.makedirs(osp.dirname(osp.abspath(out_png)), exist_ok=True)
    fig.savefig(out_png, dpi=110)
    plt.close(fig)
    return out_png


def save_report(rows: Sequence[Row], cond: Conditions, work_dir: str) -> List[str]:
    """Write ``benchmark.md``, ``benchmark.json`` and the Pareto plot (when
    the rows have NME) into ``work_dir``; returns the paths written."""
    os.makedirs(work_dir, exist_ok=True)
    paths = [osp.join(work_dir, 'benchmark.md'), osp.join(work_dir, 'benchmark.json')]
    with open(paths[0], 'w') as f:
        f.write(format_table(rows) + '\n\n' + cond.line() + '\n')
    with open(paths[1], 'w') as f:
        json.dump(dict(rows=[asdict(r) for r in rows], conditions=asdict(cond)), f, indent=1)
    png = pareto_plot(rows, osp.join(work_dir, 'pareto.png'))
    return paths + ([png] if png else [])


def benchmark_report(models: Sequence[ModelSpec], work_dir: str,
                     runtimes: Sequence[str] = RUNTIMES, **kwargs) -> int:
    """:func:`run_benchmark`, its table printed and saved
    (:func:`save_report`): what ``tools/analysis/benchmark.py`` does. 1 when
    an INT8 row failed its accuracy check (the row says so)."""
    rows, cond = run_benchmark(models, work_dir, runtimes, **kwargs)
    print()
    print(format_table(rows))
    print()
    print(cond.line())
    print('versions: ' + ', '.join(f'{k} {v}' for k, v in cond.versions.items()))
    written = save_report(rows, cond, work_dir)
    print('wrote ' + ', '.join(written)
          + ('' if written[-1].endswith('.png') else ' (no Pareto plot: give --data-root '
             'for NME)'))
    failed = [f'{r.model} {r.runtime}' for r in rows if r.status]
    if failed:
        limit = kwargs.get('int8_limit', INT8_LIMIT)
        print(f'FAILED the INT8 check (limit +{100 * limit:.0f} % '
              f'NME_pupil): {", ".join(failed)}')
        return 1
    return 0
