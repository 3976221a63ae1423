"""Teacher vs student alone vs distilled student, on the same data, schedule
and seed, each run as ``tools/train.py`` and ``tools/test.py`` run it."""
from __future__ import annotations

import dataclasses
import glob
import json
import os
import os.path as osp
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.config import Config

from ..training.kd_checkpoint import convert_kd_checkpoint
from ..training.runner import test_run, train_run
from ..utils import shipped_config
from ..utils.jobs import Job, run_jobs
from .complexity import model_complexity
from .significance import distillation_verdicts, read_face_errors

CONFIGS = shipped_config('ivslab')
METRICS = ('NME_pupil', 'NME_ocular', 'FR@0.10_pupil', 'AUC@0.10_pupil')


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


#: The distilled students: from the labelled faces only (``student_kd.py``),
#: and with an unlabelled pool besides (``student_kd_unlabelled.py``).
KD_CONFIGS = {'student_kd': 'student_kd.py', 'student_kd_pool': 'student_kd_unlabelled.py'}


@dataclass
class Plan:
    """The runs of a benchmark and their shared schedule.

    ``distilled`` names the distilled students to train (keys of
    ``KD_CONFIGS``). ``student_kd_pool`` needs ``unlabelled_ann_file``
    (relative to ``data_root``): every step has ``batch_size`` labelled
    faces, as the student alone's, plus the unlabelled faces that the
    config's ``source_ratio`` adds, so it gets the same steps and the same
    labelled faces per step. ``source_ratio`` (labelled, unlabelled)
    overrides the config's and sets the batch to match.
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
    distilled: Sequence[str] = ('student_kd', )

    def __post_init__(self) -> None:
        unknown = set(self.distilled) - set(KD_CONFIGS)
        if unknown:
            raise ValueError(f'unknown distilled students {sorted(unknown)} '
                             f'(known: {list(KD_CONFIGS)})')
        if 'student_kd_pool' in self.distilled and not self.unlabelled_ann_file:
            raise ValueError('student_kd_pool needs unlabelled_ann_file')

    @property
    def models(self) -> List[str]:
        """Every model of the plan, the teacher first."""
        return ['teacher', 'student', *self.distilled]

    def options(self, epochs: int, batch_size: Optional[int] = None) -> List[str]:
        return schedule_options(self.data_root, epochs, batch_size or self.batch_size,
                                self.seed, self.warmup_iters)

    def config(self, name: str) -> str:
        """Training config of a model (a distilled one tests with student.py)."""
        files = dict(teacher=self.teacher_config, student='student.py', **KD_CONFIGS)
        return osp.join(CONFIGS, files[name])

    def train_batch_size(self, name: str) -> int:
        """Faces per step: ``batch_size`` labelled ones, plus, for the
        distilled student with the pool, its config's unlabelled share
        (``MultiSourceBatchSampler``'s ``source_ratio``)."""
        if name != 'student_kd_pool':
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
        """Config that tests a model (a distilled student as a student)."""
        return self.config('teacher' if name == 'teacher' else 'student')

    def train_job(self, name: str, threads: int) -> Job:
        extra: List[str] = []
        if name in KD_CONFIGS:
            extra = [f'model.teacher_ckpt={self.teacher_ckpt}',
                     f'model.teacher_cfg={self.config("teacher")}']
        if name == 'student_kd_pool':
            extra.append(f'unlabelled_ann_file={self.unlabelled_ann_file}')
            if self.source_ratio:
                ratio = ','.join(str(r) for r in self.source_ratio)
                extra.append(f'train_dataloader.batch_sampler.source_ratio=[{ratio}]')
        options = self.options(self.train_epochs(name), self.train_batch_size(name))
        return Job(name, train_run, dict(config=self.config(name), work_dir=self.run_dir(name),
                                         options=[*options, *extra]),
                   osp.join(self.work_dir, f'{name}_train.log'), threads, self.echo)

    def run_dir(self, name: str) -> str:
        return osp.join(self.work_dir, name)

    def faces_file(self, name: str) -> str:
        """The per-face errors ``tools/test.py --out`` wrote for a model."""
        return osp.join(self.work_dir, f'{name}_metrics_faces.json')

    def for_seed(self, seed: int) -> 'Plan':
        """The same plan with another seed, in ``work_dir/seed<seed>``."""
        return dataclasses.replace(self, seed=seed,
                                   work_dir=osp.join(self.work_dir, f'seed{seed}'))


def test_checkpoint(plan: Plan, name: str, config: str, ckpt: str,
                    threads: int = 1) -> Dict[str, float]:
    """``tools/test.py CONFIG CKPT --out`` on the plan's test split; returns
    its metrics (per-face errors land in :meth:`Plan.faces_file`, drawn
    predictions in ``<run dir>/vis``)."""
    out = osp.join(plan.work_dir, f'{name}_metrics.json')
    run_jobs([Job(name, test_run,
                  dict(config=config, checkpoint=ckpt, work_dir=plan.run_dir(name), out=out,
                       show_dir=osp.join(plan.run_dir(name), 'vis'),
                       options=plan.options(plan.epochs)),
                  osp.join(plan.work_dir, f'{name}_test.log'), threads, plan.echo)])
    with open(out) as f:
        metrics = json.load(f)
    metrics.update({k: v for k, v in model_complexity(Config.fromfile(config)).items()
                    if k != 'input_size'})
    return metrics


def run_benchmark(plan: Plan) -> Dict[str, Dict[str, float]]:
    """Train (or reuse) the teacher, the student alone and the distilled
    students with the same schedule and seed, then test each on the test
    split.

    With ``plan.parallel`` independent runs train at the same time (one
    thread each): the teacher and the student alone, then the distilled
    students (or, given a teacher checkpoint, all of the students). On two
    cores that nearly halves the wall time.

    Returns:
        dict: per model its test metrics plus ``gmacs``, ``mparams``,
        ``train_s`` (wall seconds), ``checkpoint`` (the tested file) and
        ``faces`` (its per-face errors).
    """
    os.makedirs(plan.work_dir, exist_ok=True)
    train_s: Dict[str, float] = {}

    def train(names: Sequence[str], threads: int) -> None:
        jobs = [plan.train_job(n, threads) for n in names]
        run_jobs(jobs)
        train_s.update({job.name: job.seconds for job in jobs})

    # the distilled students need the teacher; everything else is independent
    distilled = list(plan.distilled)
    stages = [['student', *distilled]] if plan.teacher_ckpt else \
        [['teacher', 'student'], distilled]
    for stage in stages:
        if plan.parallel and len(stage) > 1:
            train(stage, 1)
        else:
            for name in stage:
                train([name], plan.threads)
        if 'teacher' in stage:
            plan.teacher_ckpt = best_checkpoint(plan.run_dir('teacher'))
    ckpts = dict(teacher=plan.teacher_ckpt, student=best_checkpoint(plan.run_dir('student')))
    for name in distilled:
        ckpts[name] = osp.join(plan.run_dir(name), 'student_only.pth')
        convert_kd_checkpoint(best_checkpoint(plan.run_dir(name)), ckpts[name])

    results: Dict[str, Dict[str, float]] = {}
    for name, ckpt in ckpts.items():
        results[name] = dict(test_checkpoint(plan, name, plan.test_config(name), ckpt,
                                             plan.threads), checkpoint=ckpt,
                             faces=plan.faces_file(name))
        # only models trained here have a known schedule and time (not a reused teacher)
        if name in train_s:
            results[name].update(train_s=train_s[name],
                                 iters=plan.train_epochs(name) * plan.iters_per_epoch())
    with open(osp.join(plan.work_dir, 'results.json'), 'w') as f:
        json.dump(results, f, indent=2)
    return results


def run_seeds(plan: Plan, seeds: Sequence[int]) -> Dict[int, Dict[str, Dict[str, float]]]:
    """:func:`run_benchmark` once per seed (``work_dir/seed<N>``); a
    teacher checkpoint given to the plan is reused by every seed."""
    return {seed: run_benchmark(plan.for_seed(seed)) for seed in seeds}


def face_errors(runs: Sequence[Dict[str, Dict]], name: str) -> np.ndarray:
    """(seeds, faces) NME_pupil of one model over runs of the same test set."""
    return read_face_errors([run[name]['faces'] for run in runs])


def verdict_lines(runs: Sequence[Dict[str, Dict]]) -> List[str]:
    """What the runs show, each figure with its 95 % interval over the test
    faces (and the seeds): is the teacher better than the student alone,
    and does each distilled student beat the student alone."""
    if not all('faces' in run.get(n, {}) for run in runs for n in ('teacher', 'student')):
        return []
    errors = {n: face_errors(runs, n) for n in runs[0]}
    said = {n: distillation_verdicts(errors, n).lines() for n in runs[0] if n in KD_CONFIGS}
    if not said:
        return []
    lines = [next(iter(said.values()))[0]] + [f'{n}: {v[1]}' for n, v in said.items()]
    faces = errors['student'].shape[1]
    lines.append(f'(paired bootstrap over the {faces} test faces'
                 + (f' and {len(runs)} seeds' if len(runs) > 1 else '') +
                 '; faces of one video are not independent, so the intervals are if '
                 'anything too narrow)')
    return lines


def gap_closed(results: Dict[str, Dict[str, float]],
               metric: str = 'NME_pupil', distilled: str = 'student_kd') -> Optional[float]:
    """Fraction of the student-teacher gap in ``metric`` (lower is better)
    that distillation closes: (student - kd) / (student - teacher); ``None``
    when the teacher is not better than the student (no gap to close)."""
    gap = results['student'][metric] - results['teacher'][metric]
    if gap <= 0:
        return None
    return (results['student'][metric] - results[distilled][metric]) / gap


def format_table(results: Dict[str, Dict[str, float]]) -> str:
    """A markdown table of one run, and what it shows with its intervals
    (when the per-face errors are there)."""
    cols = [*METRICS, 'mparams', 'gmacs', 'iters', 'train_s']
    heads = ['model', 'NME_pupil', 'NME_ocular', 'FR@0.10', 'AUC@0.10', 'params (M)',
             'GFLOPs (MACs)', 'steps', 'train (s)']
    lines = ['| ' + ' | '.join(heads) + ' |', '|' + '---|' * len(heads)]
    for name, r in results.items():
        cells = ['' if c not in r else f'{r[c]:.0f}' if c in ('iters', 'train_s')
                 else f'{r[c]:.4f}' for c in cols]
        lines.append(f'| {name} | ' + ' | '.join(cells) + ' |')
    if 'teacher' in results and 'iters' not in results['teacher']:
        lines.append(f'\nteacher: reused {results["teacher"].get("checkpoint", "checkpoint")} '
                     '(its steps and training time are not known here)')
    verdicts = verdict_lines([results])
    if verdicts:
        lines += [''] + verdicts
    return '\n'.join(lines)


def format_seeds(runs: Dict[int, Dict[str, Dict[str, float]]]) -> str:
    """A markdown table over seeds: each model's NME_pupil per seed, their
    mean and standard deviation, then the verdicts over faces and seeds."""
    seeds = list(runs)
    first = runs[seeds[0]]
    heads = ['model', *[f'seed {s}' for s in seeds], 'mean', 'sd (seeds)', 'NME_ocular mean',
             'AUC@0.10 mean', 'train (s) mean']
    lines = ['| ' + ' | '.join(heads) + ' |', '|' + '---|' * len(heads)]
    for name in first:
        nme = np.array([runs[s][name]['NME_pupil'] for s in seeds])

        def mean(key: str, fmt: str = '.4f') -> str:
            vals = [runs[s][name][key] for s in seeds if key in runs[s][name]]
            return format(float(np.mean(vals)), fmt) if vals else ''
        sd = f'{nme.std(ddof=1):.4f}' if len(seeds) > 1 else ''
        lines.append(f'| {name} | ' + ' | '.join(f'{v:.4f}' for v in nme) +
                     f' | {nme.mean():.4f} | {sd} | {mean("NME_ocular")} | '
                     f'{mean("AUC@0.10_pupil", ".3f")} | {mean("train_s", ".0f")} |')
    verdicts = verdict_lines([runs[s] for s in seeds])
    if verdicts:
        lines += [''] + verdicts
    return '\n'.join(lines)
