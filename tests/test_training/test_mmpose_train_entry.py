"""The KD config through MMPose's own ``tools/train.py`` (the script that
``mim train mmpose`` runs), with the documented ``model.teacher_ckpt=``."""
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.runner.checkpoint import _load_checkpoint
from mmpose.registry import MODELS

from conftest import REPO_ROOT, run_tool

pytestmark = pytest.mark.slow


def mmpose_train_script() -> str:
    import mmpose
    path = osp.join(osp.dirname(mmpose.__file__), '.mim', 'tools', 'train.py')
    if not osp.isfile(path):
        pytest.skip(f'this mmpose install ships no .mim/tools/train.py ({path})')
    return path


def mmpose_options(data_root: str) -> list:
    """CPU smoke settings spelled as any MMEngine tool takes them: MMPose's
    script does not forward the plugin's short `data_root=` to the datasets."""
    opts = ['train_cfg.max_epochs=1', 'train_cfg.val_interval=1',
            'train_dataloader.batch_size=4', 'default_hooks.logger.interval=1',
            'randomness.seed=0']
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        opts += [f'{loader}.num_workers=0', f'{loader}.persistent_workers=False',
                 f'{loader}.dataset.data_root={data_root}']
    return opts


def test_mmpose_train_loads_the_teacher_checkpoint(synthetic_data, tmp_path):
    script = mmpose_train_script()
    teacher_cfg = osp.join(REPO_ROOT, 'configs', 'ivslab', 'teacher_cpu.py')
    # a teacher with known weights: far from any fresh initialisation
    torch.manual_seed(1)
    teacher = MODELS.build(Config.fromfile(teacher_cfg).model)
    with torch.no_grad():
        for p in teacher.parameters():
            p.add_(torch.randn_like(p))
    teacher_ckpt = str(tmp_path / 'teacher.pth')
    torch.save(dict(state_dict=teacher.state_dict()), teacher_ckpt)

    work_dir = str(tmp_path / 'kd')
    config = osp.join(REPO_ROOT, 'configs', 'ivslab', 'student_kd.py')
    log = run_tool(script, config, '--work-dir', work_dir, '--cfg-options',
                   *mmpose_options(synthetic_data['root']),
                   f'model.teacher_cfg={teacher_cfg}', f'model.teacher_ckpt={teacher_ckpt}')
    assert 'distill.loss_logit' in log and 'RANDOM' not in log

    saved = _load_checkpoint(osp.join(work_dir, 'epoch_1.pth'),
                             map_location='cpu')['state_dict']
    expected = teacher.state_dict()
    for name, value in expected.items():
        assert torch.equal(saved[f'teacher.{name}'], value), name


def test_mmpose_train_without_teacher_checkpoint_fails(synthetic_data, tmp_path):
    # the short top-level form is not seen by MMPose's script: the run must
    # stop instead of distilling from a random teacher
    import subprocess
    import sys
    script = mmpose_train_script()
    config = osp.join(REPO_ROOT, 'configs', 'ivslab', 'student_kd.py')
    proc = subprocess.run(
        [sys.executable, script, config, '--work-dir', str(tmp_path / 'kd'),
         '--cfg-options', *mmpose_options(synthetic_data['root']), 'teacher_ckpt=x.pth'],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode != 0
    assert 'model.teacher_ckpt=PATH' in proc.stderr
