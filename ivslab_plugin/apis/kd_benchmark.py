"""Teacher vs student alone vs distilled student, on the same data, schedule
and seed, through the real tools (``tools/train.py``, ``tools/test.py``)."""
from __future__ import annotations

import glob
import json
import os
import os.path as osp
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Sequence

from mmengine.config import Config

from ..utils import shipped_config, shipped_tool
from .complexity import model_complexity
from .kd_checkpoint import convert_kd_checkpoint

CONFIGS = shipped_config('ivslab')
METRICS = ('NME_pupil', 'NME_ocular', 'FR@0.10_pupil', 'AUC@0.10_pupil')
MODELS = ('teacher', 'student', 'student_kd')


def selection_options(data_root: str) -> List[str]:
    """Select checkpoints on ``val.tsv`` where the data has one (the sample
    data); the ivslab layout has only ``train.tsv`` and ``test.tsv`` (its
    validation split), where the configs' default, ``test.tsv``, stays."""
    val = 'annotations/ivslab/val.tsv'
    return [f'val_ann_file={val}'] if osp.isfile(osp.join(data_root, val)) else []


def schedule_options(data_root: str, epochs: int, batch_size: int, seed: int,
                     warmup_iters: int, workers: int = 0) -> List[str]:
    """``--cfg-options`` giving every model the same short schedule.

    The configs compute their cosine phase from ``max_epochs`` when parsed,
    so the schedulers are overridden too: linear warm-up for
    ``warmup_iters``, then cosine decay over the second half.
    """
    half = epochs // 2
    opts = [
        f'data_root={data_root}', *selection_options(data_root),
        f'train_cfg.max_epochs={epochs}',
        f'train_cfg.val_interval={max(1, epochs // 4)}',
        f'train_dataloader.batch_size={batch_size}',
        f'randomness.seed={seed}', 'default_hooks.logger.interval=10',
        f'param_scheduler.0.end={warmup_iters}',
        f'param_scheduler.1.begin={half}', f'param_scheduler.1.end={epochs}',
        f'param_scheduler.1.T_max={epochs - half}',
        'default_hooks.checkpoint.max_keep_ckpts=1',
    ]
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts += [f'{loader}.num_workers={workers}',
                 f'{loader}.persistent_workers={workers > 0}']
    return opts


@dataclass
class Job:
    """One tool run: ``python <tools/args[0]> <args[1:]>`` (``args[0]`` names
    a script of the shipped ``tools/``, e.g. ``'train.py'``), its output
    written to ``log_path`` (and echoed with a ``[name]`` prefix)."""

    name: str
    args: List[str]
    log_path: str
    threads: int = 1
    echo: bool = False
    env: Dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0  # wall time, set by run_jobs


def run_jobs(jobs: Sequence[Job], check: bool = True) -> Dict[str, int]:
    """Run jobs concurrently (one process each) and wait for all of them.

    Returns:
        dict: each job's exit code.

    Raises:
        RuntimeError: with ``check``, naming every job that failed and its log.
    """
    procs = []
    for job in jobs:
        # Pinned intra-op threads: on a shared 2-core box two OpenMP
        # pools competing made a training step ~15x slower (13 s vs 0.7 s
        # for the student at batch 16).
        env = dict(os.environ, PYTHONUNBUFFERED='1', OMP_NUM_THREADS=str(job.threads),
                   MKL_NUM_THREADS=str(job.threads), **job.env)
        os.makedirs(osp.dirname(osp.abspath(job.log_path)), exist_ok=True)
        log = open(job.log_path, 'w')
        proc = subprocess.Popen([sys.executable, shipped_tool(job.args[0]), *job.args[1:]],
                                env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        pump = threading.Thread(target=_pump, args=(proc, log, job, time.time()), daemon=True)
        pump.start()
        procs.append((job, proc, pump, log))
    failed, codes = [], {}
    for job, proc, pump, log in procs:
        proc.wait()
        pump.join()
        log.close()
        codes[job.name] = proc.returncode
        if proc.returncode:
            failed.append(f'{job.name} ({" ".join(job.args[:2])}), see {job.log_path}')
    if failed and check:
        raise RuntimeError('failed: ' + '; '.join(failed))
    return codes


def _pump(proc: subprocess.Popen, log, job: Job, start: float) -> None:
    for line in proc.stdout:
        log.write(line)
        # MMEngine's progress lines, not every warning
        if job.echo and ('mmengine - INFO' in line or 'Error' in line):
            print(f'[{job.name}] {line}', end='', flush=True)
    proc.wait()
    job.seconds = time.time() - start


def best_checkpoint(work_dir: str) -> str:
    """The ``save_best`` checkpoint of a run."""
    found = sorted(glob.glob(osp.join(work_dir, 'best_NME_pupil_epoch_*.pth')))
    if not found:
        raise FileNotFoundError(f'no best checkpoint in {work_dir}')
    return found[-1]


def count_rows(path: str) -> int:
    """Faces in a TSV (one per line, no header)."""
    with open(path, encoding='utf-8') as f:
        return sum(1 for line in f if line.strip())


@dataclass
class Plan:
    """The three runs of a benchmark and their shared schedule.

    With ``unlabelled_ann_file`` (relative to ``data_root``) the distilled
    student trains with ``student_kd_unlabelled.py``: every step has
    ``batch_size`` labelled faces, as the student alone's, plus the
    unlabelled faces that the config's ``source_ratio`` adds, so it gets the
    same steps and the same labelled faces per step. ``source_ratio``
    (labelled, unlabelled) overrides the config's and sets the batch to match.
    """

    work_dir: str
    data_root: str
    epochs: int
    batch_size: int = 32
    seed: int = 0
    warmup_iters: int = 50
    teacher_config: str = 'teacher.py'
    teacher_epochs: Optional[int] = None
    teacher_ckpt: Optional[str] = None
    parallel: bool = False
    threads: int = 1
    echo: bool = False
    unlabelled_ann_file: Optional[str] = None
    source_ratio: Optional[Sequence[int]] = None

    def options(self, epochs: int, batch_size: Optional[int] = None) -> List[str]:
        return schedule_options(self.data_root, epochs, batch_size or self.batch_size,
                                self.seed, self.warmup_iters)

    def config(self, name: str) -> str:
        """Training config of a model (the KD run tests with student.py)."""
        files = dict(teacher=self.teacher_config, student='student.py',
                     student_kd='student_kd_unlabelled.py' if self.unlabelled_ann_file
                     else 'student_kd.py')
        return osp.join(CONFIGS, files[name])

    def train_batch_size(self, name: str) -> int:
        """Faces per step: ``batch_size`` labelled ones, plus, for the
        distilled student with unlabelled faces, its config's unlabelled
        share (``MultiSourceBatchSampler``'s ``source_ratio``)."""
        if name != 'student_kd' or not self.unlabelled_ann_file:
            return self.batch_size
        ratio = self.source_ratio or \
            Config.fromfile(self.config(name)).train_dataloader.batch_sampler.source_ratio
        return round(self.batch_size * sum(ratio) / ratio[0])

    def iters_per_epoch(self) -> int:
        """Optimiser steps in one epoch (one pass over the labelled faces)."""
        faces = count_rows(osp.join(self.data_root, 'annotations', 'ivslab', 'train.tsv'))
        return -(-faces // self.batch_size)

    def train_epochs(self, name: str) -> int:
        """Epochs of a model (``teacher_epochs`` for the teacher)."""
        if name == 'teacher':
            return self.teacher_epochs or self.epochs
        return self.epochs

    def test_config(self, name: str) -> str:
        """Config that tests a model (the distilled student as a student)."""
        return self.config('teacher' if name == 'teacher' else 'student')

    def train_job(self, name: str, threads: int) -> Job:
        extra: List[str] = []
        if name == 'student_kd':
            extra = [f'model.teacher_ckpt={self.teacher_ckpt}',
                     f'model.teacher_cfg={self.config("teacher")}']
            if self.unlabelled_ann_file:
                extra.append(f'unlabelled_ann_file={self.unlabelled_ann_file}')
                if self.source_ratio:
                    ratio = ','.join(str(r) for r in self.source_ratio)
                    extra.append(f'train_dataloader.batch_sampler.source_ratio=[{ratio}]')
        return Job(name, ['train.py', self.config(name), '--work-dir', self.run_dir(name),
                          '--cfg-options', *self.options(self.train_epochs(name),
                                                        self.train_batch_size(name)),
                          *extra],
                   osp.join(self.work_dir, f'{name}_train.log'), threads, self.echo)

    def run_dir(self, name: str) -> str:
        return osp.join(self.work_dir, name)


def test_checkpoint(plan: Plan, name: str, config: str, ckpt: str,
                    threads: int = 1) -> Dict[str, float]:
    """``tools/test.py CONFIG CKPT --out`` on the plan's validation split;
    returns its metrics (per-face errors land in ``<name>_metrics_faces.json``,
    drawn predictions in ``<run dir>/vis``)."""
    out = osp.join(plan.work_dir, f'{name}_metrics.json')
    run_jobs([Job(name, ['test.py', config, ckpt, '--work-dir', plan.run_dir(name),
                         '--out', out, '--show-dir', osp.join(plan.run_dir(name), 'vis'),
                         '--cfg-options', *plan.options(plan.epochs)],
                  osp.join(plan.work_dir, f'{name}_test.log'), threads, plan.echo)])
    with open(out) as f:
        metrics = json.load(f)
    metrics.update({k: v for k, v in model_complexity(Config.fromfile(config)).items()
                    if k != 'input_size'})
    return metrics


def run_benchmark(plan: Plan) -> Dict[str, Dict[str, float]]:
    """Train (or reuse) the teacher, the student alone and the distilled
    student with the same schedule and seed, then test each on the validation
    split.

    With ``plan.parallel`` independent runs train at the same time (one
    thread each): the teacher and the student alone, or, given a teacher
    checkpoint, the student alone and the distilled student. On two cores
    that nearly halves the wall time.

    Returns:
        dict: per model (``teacher``, ``student``, ``student_kd``) its test
        metrics plus ``gmacs``, ``mparams``, ``train_s`` (wall seconds) and
        ``checkpoint`` (the tested file).
    """
    os.makedirs(plan.work_dir, exist_ok=True)
    train_s: Dict[str, float] = {}

    def train(names: Sequence[str], threads: int) -> None:
        jobs = [plan.train_job(n, threads) for n in names]
        run_jobs(jobs)
        train_s.update({job.name: job.seconds for job in jobs})

    # the distilled student needs the teacher; everything else is independent
    stages = [['student', 'student_kd']] if plan.teacher_ckpt else \
        [['teacher', 'student'], ['student_kd']]
    for stage in stages:
        if plan.parallel and len(stage) > 1:
            train(stage, 1)
        else:
            for name in stage:
                train([name], plan.threads)
        if 'teacher' in stage:
            plan.teacher_ckpt = best_checkpoint(plan.run_dir('teacher'))
    ckpts = dict(teacher=plan.teacher_ckpt, student=best_checkpoint(plan.run_dir('student')))
    kd_ckpt = osp.join(plan.run_dir('student_kd'), 'student_only.pth')
    convert_kd_checkpoint(best_checkpoint(plan.run_dir('student_kd')), kd_ckpt)
    ckpts['student_kd'] = kd_ckpt

    results: Dict[str, Dict[str, float]] = {}
    for name, ckpt in ckpts.items():
        results[name] = dict(test_checkpoint(plan, name, plan.test_config(name), ckpt,
                                             plan.threads), checkpoint=ckpt)
        # only models trained here have a known schedule and time (not a reused teacher)
        if name in train_s:
            results[name].update(train_s=train_s[name],
                                 iters=plan.train_epochs(name) * plan.iters_per_epoch())
    with open(osp.join(plan.work_dir, 'results.json'), 'w') as f:
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


def teacher_margin(results: Dict[str, Dict[str, float]],
                   metric: str = 'NME_pupil') -> float:
    """The teacher's ``metric`` relative to the student alone's (negative:
    the teacher is better)."""
    return results['teacher'][metric] / results['student'][metric] - 1


def format_table(results: Dict[str, Dict[str, float]]) -> str:
    """A markdown table of the benchmark, plus the gap closed."""
    cols = [*METRICS, 'mparams', 'gmacs', 'iters', 'train_s']
    heads = ['model', 'NME_pupil', 'NME_ocular', 'FR@0.10', 'AUC@0.10', 'params (M)',
             'GFLOPs (MACs)', 'steps', 'train (s)']
    lines = ['| ' + ' | '.join(heads) + ' |', '|' + '---|' * len(heads)]
    for name in MODELS:
        if name not in results:
            continue
        r = results[name]
        cells = ['' if c not in r else f'{r[c]:.0f}' if c in ('iters', 'train_s')
                 else f'{r[c]:.4f}' for c in cols]
        lines.append(f'| {name} | ' + ' | '.join(cells) + ' |')
    if 'teacher' in results and 'iters' not in results['teacher']:
        lines.append(f'\nteacher: reused {results["teacher"].get("checkpoint", "checkpoint")} '
                     '(its steps and training time are not known here)')
    if set(MODELS) <= set(results):
        lines.append('')
        margin = teacher_margin(results)
        lines.append(f'teacher vs student alone: NME_pupil {margin:+.1%} '
                     '(the teacher should be >= 15 % lower to teach)')
        closed = gap_closed(results)
        if closed is None:
            lines.append('NME_pupil gap closed by distillation: n/a, the teacher is not '
                         'better than the student alone (train the teacher longer)')
        else:
            lines.append(f'NME_pupil gap closed by distillation: {closed:.1%} '
                         f'(target >= 60%)')
    return '\n'.join(lines)
