"""Mutation check of the core: does the suite catch a plausible bug?

Each mutation is a textual edit of one source file (a bug someone could
plausibly make). For every mutation the repository is copied to a temporary
directory, the edit is applied to the copy (never to the working tree), and
the smallest test subset that should catch it runs there with ``PYTHONPATH``
pointing at the copy. A mutation is *caught* when those tests fail.

Before the mutations, the union of the subsets runs on an unmutated copy and
must pass: otherwise a "caught" would mean nothing.

Usage (from the repository root)::

    python tests/mutation/run_mutations.py            # all mutations
    python tests/mutation/run_mutations.py --list     # names only
    python tests/mutation/run_mutations.py --only flip-pairs --only tsv-box

Prints a table ``mutation -> caught / NOT caught`` and exits non-zero if any
mutation is not caught, is pending (not written yet), or no longer applies
(its original text is gone from the source: update the mutation).
"""
from __future__ import annotations

import argparse
import os
import os.path as osp
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

# Not copied: version control, environments, data and outputs at the top
# level, and caches anywhere.
TOP_IGNORED = {'.git', '.venv', 'work_dirs', 'data', 'build'}
CACHES = ('__pycache__', '.pytest_cache', '.ruff_cache', '*.egg-info', '*.pyc')

METRIC = 'ivslab_plugin/evaluation/face_metric.py'
METAINFO = 'ivslab_plugin/datasets/metainfo/ivslab51.py'
TSV = 'ivslab_plugin/datasets/tsv.py'
DISTILLER = 'ivslab_plugin/models/distillers/single_teacher_distiller.py'
KD_LOSSES = 'ivslab_plugin/models/losses/kd_losses.py'


@dataclass
class Mutation:
    """One plausible bug.

    Args:
        name: Short identifier (for ``--only``).
        what: The bug, in words.
        file: Source file, relative to the repository root.
        edits: ``(original, mutated)`` text pairs; each original must occur
            exactly once in ``file``.
        tests: pytest node ids (files or tests) of the tests that must catch
            it.
        pending: Why the mutation is not written yet (it then counts as not
            caught).
    """

    name: str
    what: str
    file: Optional[str] = None
    edits: List[Tuple[str, str]] = field(default_factory=list)
    tests: List[str] = field(default_factory=list)
    pending: Optional[str] = None


MUTATIONS: List[Mutation] = [
    Mutation(
        'metric-pupil-indices', 'NME_pupil eye centroids drop one point per eye (off by one)',
        METRIC, [("pupil=(range(19, 25), range(25, 31))", "pupil=(range(19, 24), range(25, 30))")],
        ['tests/test_evaluation/test_face_metric.py']),
    Mutation(
        'metric-ocular-indices', 'NME_ocular uses the 68-point corners 36/45 (lips in this markup)',
        METRIC, [("ocular=([19], [28])),\n    '300w'", "ocular=([36], [45])),\n    '300w'")],
        ['tests/test_evaluation/test_face_metric.py']),
    Mutation(
        'metric-normalise-by-prediction', 'NME normalised by the predicted, not the true, eyes',
        METRIC, [('normalising_distance(gt, table[mode])',
                  'normalising_distance(pred, table[mode])')],
        ['tests/test_evaluation/test_face_metric.py']),
    Mutation(
        'flip-pairs',
        'eye flip pairs mirror corner to corner in the wrong order (19<->25, 22<->28)',
        METAINFO, [
            ("name='right_eye_1', id=19, color=[51, 153, 255], type='', swap='left_eye_4'",
             "name='right_eye_1', id=19, color=[51, 153, 255], type='', swap='left_eye_1'"),
            ("name='right_eye_4', id=22, color=[51, 153, 255], type='', swap='left_eye_1'",
             "name='right_eye_4', id=22, color=[51, 153, 255], type='', swap='left_eye_4'"),
            ("name='left_eye_1', id=25, color=[51, 153, 255], type='', swap='right_eye_4'",
             "name='left_eye_1', id=25, color=[51, 153, 255], type='', swap='right_eye_1'"),
            ("name='left_eye_4', id=28, color=[51, 153, 255], type='', swap='right_eye_1'",
             "name='left_eye_4', id=28, color=[51, 153, 255], type='', swap='right_eye_4'"),
        ],
        ['tests/test_datasets/test_ivslab_dataset.py::test_flip_indices_from_the_format_note']),
    Mutation(
        'tsv-box-side', 'face box side read as scale * 200 from the centre (twice the box)',
        TSV, [('half = self.scale * BOX_UNIT / 2', 'half = self.scale * BOX_UNIT')],
        ['tests/test_datasets/test_tsv.py']),
    Mutation(
        'tsv-box-from-landmarks',
        'box scale from the longer side of the landmarks, not the shorter',
        TSV, [('scale = min(x1 - x0, y1 - y0) / BOX_UNIT * SCALE_MARGIN',
               'scale = max(x1 - x0, y1 - y0) / BOX_UNIT * SCALE_MARGIN')],
        ['tests/test_datasets/test_tsv.py']),
    Mutation(
        'dark-off', "the shipped student's codec decodes by argmax, without DARK",
        'configs/ivslab/student.py', [('    unbiased=True)', '    unbiased=False)')],
        ['tests/test_models/test_lite_heatmap_head.py::test_shipped_student_decodes_with_dark']),
    Mutation(
        'teacher-train-mode',
        "the distiller's train() leaves the teacher's BatchNorm in train mode",
        DISTILLER, [('        super().train(mode)\n        self.teacher.eval()\n',
                     '        super().train(mode)\n')],
        ['tests/test_models/test_distiller.py::test_teacher_batchnorm_stays_eval',
         'tests/test_models/test_distiller.py::test_one_step_changes_student_not_teacher']),
    Mutation(
        'teacher-renormalisation', 'the teacher reads the student-normalised batch as it is',
        DISTILLER, [('inputs = (inputs * s_pre.std + s_pre.mean - t_pre.mean) / t_pre.std',
                     'inputs = inputs')],
        ['tests/test_models/test_distiller.py::test_teacher_gets_its_own_normalisation']),
    Mutation(
        'kd-resample-align-corners',
        'teacher outputs resampled corner to corner (align_corners=True)',
        KD_LOSSES, [('* (length / size)', '* ((length - 1) / max(size - 1, 1))')],
        ['tests/test_models/test_kd_losses.py']),
    Mutation(
        'int8-gate', 'an INT8 export far above the fp32 NME is accepted',
        'ivslab_plugin/deploy/verify/accuracy.py',
        [('return bool(np.isfinite(int8)) and int8 <= fp32 * (1 + limit)',
          'return bool(np.isfinite(int8))')],
        ['tests/test_deploy/test_convert/test_runtimes.py::test_int8_gate_refuses_a_broken_quantisation']),
]


def ignore(directory: str, names: Sequence[str]) -> List[str]:
    """``shutil.copytree`` ignore function: :data:`TOP_IGNORED` at the top,
    :data:`CACHES` anywhere."""
    skipped = set(shutil.ignore_patterns(*CACHES)(directory, names))
    if osp.samefile(directory, REPO_ROOT):
        skipped |= TOP_IGNORED & set(names)
    return sorted(skipped)


def copy_repo(dst: str) -> str:
    """Copy the working tree's sources (not caches, data or outputs)."""
    target = osp.join(dst, 'repo')
    shutil.copytree(REPO_ROOT, target, ignore=ignore, symlinks=True)
    return target


def apply(repo: str, mutation: Mutation) -> None:
    """Apply ``mutation`` to the copy at ``repo``.

    Raises:
        ValueError: when an original text does not occur exactly once.
    """
    path = osp.join(repo, mutation.file)
    with open(path, encoding='utf-8') as f:
        text = f.read()
    for old, new in mutation.edits:
        count = text.count(old)
        if count != 1:
            raise ValueError(f'{mutation.file}: expected the text to mutate once, found it '
                             f'{count} times: {old!r}')
        text = text.replace(old, new)
    with open(path, 'w', encoding='utf-8') as f:
        f.write(text)


def copy_env(repo: str) -> dict:
    """Environment in which the copy at ``repo``, not an installed
    ``ivslab_plugin``, is imported."""
    return dict(os.environ, PYTHONPATH=repo, PYTHONDONTWRITEBYTECODE='1',
                OMP_NUM_THREADS=os.environ.get('OMP_NUM_THREADS', '1'))


def imports_the_copy(repo: str) -> bool:
    """Whether Python run with :func:`copy_env` imports the copy's package
    (an editable install elsewhere must not win over ``PYTHONPATH``)."""
    proc = subprocess.run(
        [sys.executable, '-c', 'import ivslab_plugin; print(ivslab_plugin.__file__)'],
        cwd=repo, env=copy_env(repo), capture_output=True, text=True)
    lines = proc.stdout.strip().splitlines()
    return bool(lines) and osp.realpath(lines[-1]).startswith(osp.realpath(repo) + os.sep)


def run_pytest(repo: str, args: Sequence[str], verbose: bool) -> Tuple[int, str]:
    """Run pytest in ``repo`` on ``args``; returns (exit code, output tail)."""
    cmd = [sys.executable, '-m', 'pytest', '-q', '-x', '-p', 'no:cacheprovider', *args]
    proc = subprocess.run(cmd, cwd=repo, env=copy_env(repo), capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    if verbose:
        print(out)
    return proc.returncode, out[-2000:]


def run_one(mutation: Mutation, verbose: bool) -> Tuple[str, float]:
    """Apply one mutation to a fresh copy and run its tests."""
    if mutation.pending:
        return f'PENDING ({mutation.pending})', 0.0
    start = time.time()
    with tempfile.TemporaryDirectory(prefix='mutation-') as tmp:
        repo = copy_repo(tmp)
        try:
            apply(repo, mutation)
        except ValueError as err:
            return f'STALE ({err})', time.time() - start
        rc, tail = run_pytest(repo, mutation.tests, verbose)
    seconds = time.time() - start
    if rc == 1:  # tests ran and failed
        return 'caught', seconds
    if rc == 0:
        return 'NOT caught', seconds
    # collection errors, usage errors, no tests selected: the subset did not
    # run as intended, so this says nothing about the tests
    last = (tail.strip().splitlines() or [''])[-1]
    return f'ERROR (pytest exit {rc}: {last})', seconds


def baseline(mutations: Sequence[Mutation], verbose: bool) -> Tuple[int, str, float]:
    """Run every mutation's tests, in one pytest run, on an unmutated copy
    (they must pass)."""
    start = time.time()
    tests = list(dict.fromkeys(t for m in mutations for t in m.tests))
    if not tests:
        return 0, '', 0.0
    with tempfile.TemporaryDirectory(prefix='mutation-') as tmp:
        repo = copy_repo(tmp)
        if not imports_the_copy(repo):
            return 3, 'the copy is not what Python imports: check PYTHONPATH and ' \
                'the installed ivslab_plugin', time.time() - start
        rc, tail = run_pytest(repo, tests, verbose)
    return rc, tail, time.time() - start


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--only', action='append', metavar='NAME',
                        help='run only this mutation (repeatable)')
    parser.add_argument('--list', action='store_true', help='list the mutations and exit')
    parser.add_argument('--verbose', action='store_true', help='print pytest output')
    args = parser.parse_args(argv)

    mutations = MUTATIONS
    if args.only:
        unknown = set(args.only) - {m.name for m in MUTATIONS}
        if unknown:
            parser.error(f'unknown mutations {sorted(unknown)}; see --list')
        mutations = [m for m in MUTATIONS if m.name in args.only]
    if args.list:
        for m in mutations:
            print(f'{m.name:28s} {m.what}')
        return 0

    total = time.time()
    rc, tail, seconds = baseline(mutations, args.verbose)
    print(f'baseline (unmutated copy): {"passes" if rc == 0 else "FAILS"} ({seconds:.0f} s)')
    if rc != 0:
        print(f'the baseline failed, so the check would mean nothing:\n{tail}')
        return 2

    rows = []
    for mutation in mutations:
        result, seconds = run_one(mutation, args.verbose)
        rows.append((mutation, result, seconds))
        print(f'{mutation.name}: {result} ({seconds:.0f} s)', flush=True)

    print('\n| mutation | bug | tests | result | s |\n|---|---|---|---|---|')
    for m, result, seconds in rows:
        print(f'| {m.name} | {m.what} | `{" ".join(m.tests) or "-"}` | {result} | '
              f'{seconds:.0f} |')
    missed = [m.name for m, result, _ in rows if result != 'caught']
    print(f'\n{len(rows) - len(missed)} of {len(rows)} mutations caught in '
          f'{time.time() - total:.0f} s')
    if missed:
        print(f'NOT caught, pending or broken: {", ".join(missed)}')
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
