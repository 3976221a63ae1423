"""``tools/train.py --tensorboard``: MMEngine's TensorboardVisBackend beside
the local one, and the event files it writes."""
import glob
import importlib.util
import json
import os
import os.path as osp
import subprocess
import sys

import pytest
from mmengine.config import Config

from conftest import REPO_ROOT
from ivslab_plugin.training.runner import enable_tensorboard, train_config

STUDENT = osp.join(REPO_ROOT, 'configs', 'ivslab', 'student.py')
HAS_TENSORBOARD = importlib.util.find_spec('tensorboard') is not None
NO_TENSORBOARD = 'tensorboard is not installed (pip install tensorboard==2.20.0)'


def fake_tensorboard(monkeypatch, installed: bool) -> None:
    """``find_spec('tensorboard')`` as if it were installed or not."""
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, 'find_spec', lambda name, *a: (
        (real_find_spec('json') if installed else None) if name == 'tensorboard'
        else real_find_spec(name, *a)))


def test_flag_adds_the_tensorboard_backend_once(monkeypatch):
    fake_tensorboard(monkeypatch, installed=True)  # the config edit needs no tensorboard
    cfg = train_config(Config.fromfile(STUDENT), tensorboard=True)
    types = [b['type'] for b in cfg.visualizer.vis_backends]
    assert types == ['LocalVisBackend', 'TensorboardVisBackend']
    assert [b['type'] for b in enable_tensorboard(cfg).visualizer.vis_backends] == types
    # without the flag the config is left alone
    cfg = train_config(Config.fromfile(STUDENT))
    assert [b['type'] for b in cfg.visualizer.vis_backends] == ['LocalVisBackend']


def test_flag_without_tensorboard_fails_before_training(monkeypatch):
    fake_tensorboard(monkeypatch, installed=False)
    with pytest.raises(RuntimeError, match=r'needs the tensorboard package: pip install '
                       r'tensorboard==2\.20\.0'):
        train_config(Config.fromfile(STUDENT), tensorboard=True)


@pytest.mark.slow
@pytest.mark.skipif(not HAS_TENSORBOARD, reason=NO_TENSORBOARD)
def test_training_writes_the_scalars_for_tensorboard(synthetic_data, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    work_dir = str(tmp_path / 'work')
    opts = [f'data_root={synthetic_data["root"]}', 'train_cfg.max_epochs=1',
            'train_dataloader.batch_size=8', 'default_hooks.logger.interval=1']
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts += [f'{loader}.num_workers=0', f'{loader}.persistent_workers=False']
    proc = subprocess.run([sys.executable, osp.join(REPO_ROOT, 'tools', 'train.py'), STUDENT,
                           '--tensorboard', '--work-dir', work_dir, '--cfg-options', *opts],
                          capture_output=True, text=True, timeout=600,
                          env=dict(os.environ, OMP_NUM_THREADS='1'))
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    (events, ) = glob.glob(osp.join(work_dir, '*', 'vis_data', 'events.out.tfevents.*'))
    (local, ) = glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json'))
    acc = EventAccumulator(events)
    acc.Reload()
    tags = acc.Tags()['scalars']
    assert {'loss', 'lr', 'NME_pupil'} <= set(tags)
    # 24 training faces at batch 8: three logged steps, one validation
    assert [e.step for e in acc.Scalars('loss')] == [1, 2, 3]
    with open(local) as f:
        rows = [json.loads(line) for line in f]
    nme = [r['NME_pupil'] for r in rows if 'NME_pupil' in r]
    (board_nme, ) = acc.Scalars('NME_pupil')
    assert board_nme.value == pytest.approx(nme[0], rel=1e-6)
