"""The one-command quickstart: sample data -> teacher, student, distilled
student -> tests -> export -> demo -> a markdown report with plots.

Every step runs what the repository's tools run (``tools/train.py``,
``tools/test.py``, ``tools/deploy.py``, ``tools/analysis/benchmark.py``,
``tools/demo.py``), each in its own process with its log, so the report's
numbers are what those tools print for the same checkpoints.
"""
from __future__ import annotations

import glob
import json
import os
import os.path as osp
import shutil
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

from .analysis.benchmark import ModelSpec, benchmark_report
from .analysis.kd_benchmark import CONFIGS, Plan, format_table, run_benchmark
from .analysis.report import markdown_table, montage, plot_ced, plot_training, write_markdown
from .deploy.exports import ParityFaces, export_mmdeploy
from .deploy.infer.demo import draw_demo
from .sample_data.builder import SOURCES, build_sample_dataset, choose_sources
from .utils.fetch import Source
from .utils.jobs import Job, run_jobs

#: A held-out (test split) photo with five faces from the sample data.
DEMO_IMAGE = 'face-api/sample5.jpg'
SPLITS = ('train', 'test')
#: The unlabelled pool the distilled student also learns from (every 5th
#: video frame outside the labelled splits).
POOL = 'annotations/ivslab/unlabelled.tsv'
UNLABELLED_STEP = 5


@dataclass
class QuickstartSettings:
    """What the quickstart runs; with the defaults ``tools/quickstart.py``
    took 16.6 minutes on two idle CPU cores (see the README)."""

    work_dir: str = 'work_dirs/quickstart'
    data_root: str = 'data/sample'
    # 12 left the teacher 10 % better than the student (too little to teach);
    # 24 made it 20 % better (docs/experiments.md)
    teacher_epochs: int = 24
    epochs: int = 16
    batch_size: int = 16
    seed: int = 0
    threads: int = 2
    #: photo for the demo, under ``<data_root>/images``; None: DEMO_IMAGE,
    #: or the first test-split image when the data has no such photo
    demo_image: Optional[str] = None
    #: sample-data sources (``tools/build_sample_data.py --sources``); None:
    #: all of them, or only those that need no npm when npm is missing
    sources: Optional[Sequence[str]] = None
    parity_faces: int = 32
    latency_runs: int = 200


@dataclass
class StepTimer:
    """Wall time of each step, for the report."""

    seconds: Dict[str, float] = field(default_factory=dict)

    def run(self, name: str, fn: Callable, *args, **kwargs):
        print(f'\n=== quickstart: {name} ===', flush=True)
        start = time.time()
        result = fn(*args, **kwargs)
        self.seconds[name] = time.time() - start
        print(f'=== {name}: {self.seconds[name]:.0f} s ===', flush=True)
        return result


def has_sample_data(data_root: str) -> bool:
    ann = osp.join(data_root, 'annotations', 'ivslab')
    return all(osp.isfile(osp.join(ann, f'{s}.tsv')) for s in SPLITS)


def ensure_sample_data(data_root: str, sources: Optional[Sequence[Source]] = None) -> str:
    """Build the real-face sample data from ``sources`` (default: all) unless
    ``data_root`` already has it.

    Raises:
        RuntimeError: the sources gave no train or no test faces.
    """
    ann = osp.join(data_root, 'annotations', 'ivslab')
    if has_sample_data(data_root):
        print(f'using the sample data in {data_root}')
        if not osp.isfile(osp.join(ann, 'val.tsv')):
            print(f'WARNING: {ann} has no val.tsv (an older build), so checkpoints are '
                  'selected on test.tsv, the split the report gives; rebuild it with '
                  'tools/build_sample_data.py for a separate val split')
        return data_root
    sources = list(sources or SOURCES)
    # Photos alone (no video, as without npm) are too few for every 5th photo
    # of a source to reach the test split.
    test_every = 5 if any(s.video for s in sources) else 2
    report = build_sample_dataset(data_root, sources, test_every=test_every,
                                  unlabelled_step=UNLABELLED_STEP)
    print(f'{report.images} images, {report.train_faces} train / {report.val_faces} val / '
          f'{report.test_faces} test faces (dlib pseudo-labels), {report.unlabelled_faces} '
          f'unlabelled -> {data_root}')
    if not report.train_faces or not report.test_faces:
        raise RuntimeError(f'the sample data from {[s.name for s in sources]} has '
                           f'{report.train_faces} train and {report.test_faces} test faces: '
                           'both are needed (use more sources)')
    return data_root


def pick_demo_image(data_root: str) -> str:
    """``DEMO_IMAGE`` if the data has it, else the first test-split image
    (the data built without npm has no face-api photos)."""
    if osp.isfile(osp.join(data_root, 'images', DEMO_IMAGE)):
        return DEMO_IMAGE
    with open(osp.join(data_root, 'annotations', 'ivslab', 'test.tsv'), encoding='utf-8') as f:
        for line in f:
            if line.strip():
                return line.split('\t', 1)[0]
    raise RuntimeError(f'{data_root}: the test split is empty, no image for the demo')


def export_student(s: QuickstartSettings, ckpt: str) -> Tuple[str, List[str]]:
    """``tools/deploy.py`` on the distilled student (ONNX Runtime + SDK, parity
    on real test faces).

    Returns:
        tuple: the deploy folder and the parity report's lines. A failed
        parity check is reported, not fatal: on a barely trained model
        near-flat heatmaps let 1e-10 output differences move an argmax.
    """
    out = osp.join(s.work_dir, 'deploy', 'distilled')
    log = osp.join(s.work_dir, 'deploy.log')
    test_tsv = osp.join(s.data_root, 'annotations', 'ivslab', 'test.tsv')
    faces = ParityFaces(test_tsv, osp.join(s.data_root, 'images'), s.parity_faces)
    run_jobs([Job('deploy', export_mmdeploy,
                  dict(config=osp.join(CONFIGS, 'student.py'), checkpoint=ckpt, work_dir=out,
                       sdk=True, faces=faces), log, s.threads)], check=False)
    if not osp.isfile(osp.join(out, 'end2end.onnx')):
        raise RuntimeError(f'the export failed, see {log}')
    with open(log) as f:
        lines = f.read().splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith('exported with')), 0)
    report = [line for line in lines[start:] if line.startswith(('exported', '  ', 'parity'))]
    print('\n'.join(report))
    return out, report


def run_efficiency(s: QuickstartSettings, plan: Plan,
                   results: Dict[str, Dict]) -> Tuple[str, str]:
    """``tools/analysis/benchmark.py``: the three models on every installed
    runtime (ONNX Runtime, ncnn, LiteRT) plus the distilled student in INT8;
    returns its markdown table (with the measurement conditions) and the
    Pareto PNG."""
    out = osp.join(s.work_dir, 'benchmark')
    models = [ModelSpec(name, plan.test_config(name), results[name]['checkpoint'],
                        int8=name == plan.models[-1]) for name in plan.models]
    # one thread: the latencies are single-thread by definition; exit code 1
    # with a table is an INT8 export that failed its check (marked in the
    # table, and the quickstart fails after writing its report)
    log = osp.join(s.work_dir, 'benchmark.log')
    code = run_jobs([Job('benchmark', benchmark_report,
                         dict(models=models, work_dir=out, data_root=s.data_root,
                              keep_head_fp32='both', runs=s.latency_runs), log, 1)],
                    check=False)['benchmark']
    table_md = osp.join(out, 'benchmark.md')
    if code and not osp.isfile(table_md):
        raise RuntimeError(f'the efficiency benchmark failed, see {log}')
    with open(table_md) as f:
        table = f.read()
    print(table)
    return table, osp.join(out, 'pareto.png')


def run_demo(s: QuickstartSettings, model_dir: str) -> str:
    """``tools/demo.py`` (Haar faces + the exported student) on a real photo;
    returns the drawn picture."""
    out = osp.join(s.work_dir, 'demo')
    run_jobs([Job('demo', draw_demo,
                  dict(input=osp.join(s.data_root, 'images', s.demo_image), out_dir=out,
                       model=model_dir), osp.join(s.work_dir, 'demo.log'), s.threads)])
    return osp.join(out, osp.splitext(osp.basename(s.demo_image))[0] + '.png')


def drawn_test_faces(run_dir: str, count: int = 8) -> List[str]:
    """Pictures ``tools/test.py --show-dir`` drew, spread over the test split."""
    found = sorted(p for p in glob.glob(osp.join(run_dir, 'vis', '*'))
                   if p.lower().endswith(('.png', '.jpg', '.jpeg')))
    if not found:
        raise FileNotFoundError(f'no drawn test images in {run_dir}/vis')
    step = max(1, len(found) // count)
    return found[::step][:count]


def write_report(s: QuickstartSettings, plan: Plan, results: Dict[str, Dict],
                 demo_png: str, timer: StepTimer, parity: Sequence[str] = (),
                 efficiency: Optional[Tuple[str, str]] = None, data_note: str = '') -> str:
    """The markdown report and its PNGs in ``<work_dir>/report``; ``data_note``
    says how the sample data was limited (for example built without npm)."""
    out = osp.join(s.work_dir, 'report')
    os.makedirs(out, exist_ok=True)
    plot_training({n: plan.run_dir(n) for n in plan.models}, osp.join(out, 'training.png'))
    plot_ced({n: plan.faces_file(n) for n in plan.models},
             osp.join(out, 'ced.png'))
    montage(drawn_test_faces(plan.run_dir(plan.models[-1])), osp.join(out, 'test_faces.png'))
    montage([demo_png], osp.join(out, 'demo.png'), cols=1, tile=768)

    sections = [
        ('Accuracy (test split of the sample data, dlib pseudo-labels)',
         format_table(results) + '\n\nNME_pupil is the mean landmark error divided by the '
         'distance between the pupils (eye centres); FR@0.10 the share of faces above 0.10; '
         'AUC@0.10 the area under the cumulative error curve up to 0.10. Each comparison '
         'comes with its 95 % interval over the test faces, and counts only where that '
         'interval excludes zero: one seed on about a hundred faces, most of them from one '
         'video, often cannot tell these models apart, and the same seed gives other '
         'numbers on another CPU (docs/distillation.md).'),
    ]
    if data_note:
        sections.insert(0, ('Sample data', data_note))
    if efficiency:
        table, pareto = efficiency
        shutil.copy(pareto, osp.join(out, 'pareto.png'))
        sections.append(('Efficiency (tools/analysis/benchmark.py)',
                         table + '\n\n![NME vs GFLOPs, bubble size = file size](pareto.png)'))
    if parity:
        sections.append(('Export and parity with PyTorch (distilled student)',
                         '```\n' + '\n'.join(parity) + '\n```'))
    sections += [
        ('Training', '![loss and validation NME](training.png)'),
        ('Cumulative error', '![CED](ced.png)'),
        ('Distilled student on test faces', '![test faces](test_faces.png)'),
        ('Demo (Haar face boxes + the exported student, ONNX Runtime)',
         f'`{s.demo_image}` from the test split:\n\n![demo](demo.png)'),
        ('Checkpoints', '\n'.join(f'- {n}: `{results[n]["checkpoint"]}`' for n in plan.models)),
        ('Time per step', markdown_table(
            [dict(step=k, seconds=round(v)) for k, v in timer.seconds.items()],
            ['step', 'seconds']) + f'\n\ntotal: {sum(timer.seconds.values()) / 60:.1f} min'),
    ]
    path = write_markdown(osp.join(out, 'README.md'), 'ivslab-plugin quickstart report',
                          sections)
    with open(osp.join(out, 'results.json'), 'w') as f:
        json.dump(dict(results=results, seconds=timer.seconds), f, indent=2)
    return path


def run_quickstart(s: QuickstartSettings) -> str:
    """Run every step; returns the report's path."""
    s.work_dir, s.data_root = osp.abspath(s.work_dir), osp.abspath(s.data_root)
    sources, note = None, ''
    if not has_sample_data(s.data_root):
        # said first, before minutes of work: what the data will be built from
        sources, note = choose_sources(s.sources)
        print(f'quickstart: sample data from {", ".join(src.name for src in sources)}'
              + (f'\nquickstart: {note}' if note else ''), flush=True)
    timer = StepTimer()
    timer.run('sample data', ensure_sample_data, s.data_root, sources)
    if s.demo_image is None:
        s.demo_image = pick_demo_image(s.data_root)
    # the distilled student learns from the unlabelled pool as well as the
    # labelled faces, where the sample data has one (older builds have not)
    pool = osp.isfile(osp.join(s.data_root, POOL))
    if not pool:
        print(f'quickstart: {osp.join(s.data_root, POOL)} is missing (rebuild the sample '
              'data for it): the distilled student learns from the labelled faces only')
    plan = Plan(s.work_dir, s.data_root, s.epochs, s.batch_size, s.seed,
                warmup_iters=50, teacher_config='teacher_cpu.py',
                teacher_epochs=s.teacher_epochs, parallel=True, threads=s.threads, echo=True,
                unlabelled_ann_file=POOL if pool else None,
                distilled=('student_kd_pool' if pool else 'student_kd', ))
    results = timer.run(f'train and test {", ".join(plan.models)}', run_benchmark, plan)
    print(format_table(results))
    model_dir, parity = timer.run('export (ONNX Runtime, SDK)', export_student, s,
                                  results[plan.models[-1]]['checkpoint'])
    efficiency = timer.run('efficiency benchmark (all runtimes, INT8)', run_efficiency, s,
                           plan, results)
    demo_png = timer.run('demo', run_demo, s, model_dir)
    report = write_report(s, plan, results, demo_png, timer, parity, efficiency, note)
    print(f'\nreport: {report}')
    if '**FAILED**' in efficiency[0]:
        raise RuntimeError(f'an INT8 export failed its accuracy check: see the '
                           f'efficiency table in {report}')
    return report
