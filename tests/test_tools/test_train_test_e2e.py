"""Train the teacher config for a few iterations with the real tools, then
test the checkpoint with tools/test.py."""
import glob
import json
import os
import os.path as osp
import subprocess
import sys

import pytest

from conftest import REPO_ROOT

pytestmark = pytest.mark.slow

METRICS = ('NME_pupil', 'NME_ocular', 'FR@0.10_pupil', 'AUC@0.10_pupil')


def cpu_options(data_root: str) -> list:
    """Shrink a config's schedule and loaders for a CPU smoke run."""
    opts = [f'data_root={data_root}', 'train_cfg.max_epochs=2',
            'train_cfg.val_interval=1', 'train_dataloader.batch_size=4',
            'default_hooks.logger.interval=1', 'randomness.seed=0']
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts += [f'{loader}.num_workers=0',
                 f'{loader}.persistent_workers=False']
    return opts


def run_tool(*args: str) -> str:
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    proc = subprocess.run([sys.executable, *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def test_teacher_trains_and_tests(synthetic_data, tmp_path):
    work_dir = str(tmp_path / 'teacher')
    # (tests never download: the backbone starts from scratch)
    opts = cpu_options(synthetic_data['root']) + ['model.backbone.init_cfg=None']
    log = run_tool('tools/train.py', 'configs/ivslab/teacher.py',
                   '--work-dir', work_dir, '--cfg-options', *opts)
    assert 'NME_pupil' in log
    best = glob.glob(osp.join(work_dir, 'best_NME_pupil_epoch_*.pth'))
    assert len(best) == 1, os.listdir(work_dir)

    out = str(tmp_path / 'metrics.json')
    show = str(tmp_path / 'vis')
    log = run_tool('tools/test.py', 'configs/ivslab/teacher.py', best[0],
                   '--work-dir', work_dir, '--out', out, '--show-dir', show,
                   '--cfg-options', *opts)
    metrics = json.load(open(out))
    assert set(METRICS) <= set(metrics)
    for name in METRICS:
        assert name in log
        assert 0.0 <= metrics[name] < 100
    faces = json.load(open(str(tmp_path / 'metrics_faces.json')))['faces']
    assert len(faces) == 8
    # predictions are drawn for every validation face
    assert len(glob.glob(osp.join(show, '*.png'))) == 8
