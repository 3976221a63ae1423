"""Teacher vs student alone vs distilled student, on the same data, schedule
and seed, through the real tools (``tools/train.py``, ``tools/test.py``)."""
from __future__ import annotations

import glob
import json
import os
import os.path as osp
import subprocess
import sys
import time
from typing import Dict, List, Optional, Sequence

from mmengine.config import Config

from .complexity import model_complexity
from .kd_checkpoint import convert_kd_checkpoint

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = osp.join(REPO_ROOT, 'configs', 'ivslab')
METRICS = ('NME_pupil', 'NME_ocular', 'FR@0.10_pupil', 'AUC@0.10_pupil')


def schedule_options(data_root: str, epochs: int, batch_size: int, seed: int,
                     warmup_iters: int, workers: int = 0) -> List[str]:
    """``--cfg-options`` giving every model the same short schedule.

    The configs compute their cosine phase from ``max_epochs`` when parsed,
    so the schedulers are overridden too: linear warm-up for
    ``warmup_iters``, then cosine decay over the second half.
    """
    half = epochs // 2
    opts = [
        f'data_root={data_root}', f'train_cfg.max_epochs={epochs}',
        f'train_cfg.val_interval={epochs}', f'train_dataloader.batch_size={batch_size}',
        f'randomness.seed={seed}', 'default_hooks.logger.interval=10',
        f'param_scheduler.0.end={warmup_iters}',
        f'param_scheduler.1.begin={half}', f'param_scheduler.1.end={epochs}',
        f'param_scheduler.1.T_max={epochs - half}',
        # the teacher's last-epochs pipeline switch stays at its end
        'default_hooks.checkpoint.max_keep_ckpts=1',
    ]
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts += [f'{loader}.num_workers={workers}',
                 f'{loader}.persistent_workers={workers > 0}']
    return opts


def _run(args: Sequence[str], log_path: str, threads: int = 1) -> None:
    # One intra-op thread by default: on a shared 2-core box two OpenMP
    # threads competing with another process made a training step ~15x
    # slower (13 s vs 0.7 s for the student at batch 16).
    env = dict(os.environ, PYTHONUNBUFFERED='1', OMP_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    with open(log_path, 'w') as log:
        proc = subprocess.run([sys.executable, *args], cwd=REPO_ROOT, env=env,
                              stdout=log, stderr=subprocess.STDOUT)
    if proc.returncode:
        raise RuntimeError(f'{" ".join(args[:2])} failed, see {log_path}')


def _best(work_dir: str) -> str:
    found = sorted(glob.glob(osp.join(work_dir, 'best_NME_pupil_epoch_*.pth')))
    if not found:
        raise FileNotFoundError(f'no best checkpoint in {work_dir}')
    return found[-1]


def run_benchmark(work_dir: str, data_root: str, epochs: int, batch_size: int = 32,
                  seed: int = 0, warmup_iters: int = 50,
                  teacher_ckpt: Optional[str] = None,
                  teacher_config: str = 'teacher.py',
                  teacher_epochs: Optional[int] = None) -> Dict[str, Dict[str, float]]:
    """Train (or reuse) the teacher, the student alone and the distilled
    student; test each on the validation split.

    Args:
        work_dir: Where runs, logs and metrics go.
        data_root: An ivslab-layout dataset.
        epochs: Epochs for every model.
        batch_size: Training batch size for every model.
        seed: Random seed for every model.
        warmup_iters: Linear warm-up length.
        teacher_ckpt: Reuse this teacher instead of training one.
        teacher_config: Teacher config in ``configs/ivslab`` (also the one
            the distiller builds).
        teacher_epochs: Epochs for the teacher only (default ``epochs``); the
            student and the distilled student always share ``epochs``.

    Returns:
        dict: per model (``teacher``, ``student``, ``student_kd``) its test
        metrics plus ``gmacs``, ``mparams`` and ``train_s`` (seconds).
    """
    os.makedirs(work_dir, exist_ok=True)
    opts = schedule_options(data_root, epochs, batch_size, seed, warmup_iters)
    results: Dict[str, Dict[str, float]] = {}

    def train_and_test(name: str, config: str, test_config: str, extra: List[str],
                       convert: bool = False, run_epochs: int = epochs) -> str:
        run_dir = osp.join(work_dir, name)
        run_opts = schedule_options(data_root, run_epochs, batch_size, seed, warmup_iters)
        start = time.time()
        _run(['tools/train.py', config, '--work-dir', run_dir,
              '--cfg-options', *run_opts, *extra], osp.join(work_dir, f'{name}_train.log'))
        train_s = time.time() - start
        ckpt = _best(run_dir)
        if convert:
            student_ckpt = osp.join(run_dir, 'student_only.pth')
            convert_kd_checkpoint(ckpt, student_ckpt)
            ckpt = student_ckpt
        out = osp.join(work_dir, f'{name}_metrics.json')
        _run(['tools/test.py', test_config, ckpt, '--work-dir', run_dir, '--out', out,
              '--cfg-options', *opts], osp.join(work_dir, f'{name}_test.log'))
        with open(out) as f:
            results[name] = dict(json.load(f), train_s=train_s)
        results[name].update(
            {k: v for k, v in model_complexity(Config.fromfile(test_config)).items()
             if k != 'input_size'})
        return ckpt

    teacher_py = osp.join(CONFIGS, teacher_config)
    student_py = osp.join(CONFIGS, 'student.py')
    if teacher_ckpt is None:
        teacher_ckpt = train_and_test('teacher', teacher_py, teacher_py, [],
                                      run_epochs=teacher_epochs or epochs)
    train_and_test('student', student_py, student_py, [])
    train_and_test('student_kd', osp.join(CONFIGS, 'student_kd.py'), student_py,
                   [f'teacher_ckpt={teacher_ckpt}', f'teacher_cfg={teacher_py}'], convert=True)
    with open(osp.join(work_dir, 'results.json'), 'w') as f:
        json.dump(results, f, indent=2)
    return results


def gap_closed(results: Dict[str, Dict[str, float]],
               metric: str = 'NME_pupil') -> Optional[float]:
    """Fraction of the student-teacher gap in ``metric`` (lower is better)
    that distillation closes: (student - kd) / (student - teacher); ``None``
    when the teacher is not better than the student (no gap to close)."""
    gap = results['student'][metric] - results['teacher'][metric]
    if gap <= 0:
        return None
    return (results['student'][metric] - results['student_kd'][metric]) / gap


def format_table(results: Dict[str, Dict[str, float]]) -> str:
    """A markdown table of the benchmark, plus the gap closed."""
    cols = [*METRICS, 'mparams', 'gmacs', 'train_s']
    heads = ['model', 'NME_pupil', 'NME_ocular', 'FR@0.10', 'AUC@0.10', 'params (M)',
             'GFLOPs (MACs)', 'train (s)']
    lines = ['| ' + ' | '.join(heads) + ' |', '|' + '---|' * len(heads)]
    for name in ('teacher', 'student', 'student_kd'):
        if name not in results:
            continue
        r = results[name]
        cells = [f'{r[c]:.4f}' if c != 'train_s' else f'{r[c]:.0f}' for c in cols]
        lines.append(f'| {name} | ' + ' | '.join(cells) + ' |')
    if {'teacher', 'student', 'student_kd'} <= set(results):
        lines.append('')
        closed = gap_closed(results)
        if closed is None:
            lines.append('NME_pupil gap closed by distillation: n/a, the teacher is not '
                         'better than the student alone (train the teacher longer)')
        else:
            lines.append(f'NME_pupil gap closed by distillation: {closed:.1%} '
                         f'(target >= 60%)')
    return '\n'.join(lines)
