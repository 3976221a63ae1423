"""tools/dist_train.sh and dist_test.sh with 2 processes on the CPU (gloo):
both ranks train a few iterations and the checkpoint loads."""
import json
import os
import os.path as osp
import socket
import subprocess
import sys

import pytest
import torch
from mmengine.config import Config
from mmengine.runner.checkpoint import _load_checkpoint, load_checkpoint
from mmpose.registry import MODELS

from conftest import REPO_ROOT, cpu_options

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def run_script(*args: str) -> str:
    # no GPU: the run must pick gloo by itself (CUDA_VISIBLE_DEVICES hides any)
    env = dict(os.environ, PYTHON=sys.executable, PORT=str(free_port()),
               CUDA_VISIBLE_DEVICES='', PYTHONUNBUFFERED='1')
    proc = subprocess.run(['bash', *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=900)
    out = proc.stdout + proc.stderr
    # torchrun exits 0 only when every rank did
    assert proc.returncode == 0, out[-4000:]
    return out


def dist_options(data_root: str) -> list:
    # 24 training faces, batch 4, 2 ranks: 3 iterations per epoch
    return [*cpu_options(data_root), 'train_cfg.max_epochs=1', 'train_dataloader.batch_size=4']


def check_two_ranks(work_dir: str, log: str) -> None:
    assert 'Distributed training: True' in log
    assert 'GPU number: 2' in log  # MMEngine's name for the world size
    assert 'gloo' in json.dumps(Config.fromfile(
        osp.join(work_dir, next(f for f in os.listdir(work_dir) if f.endswith('.py')))
    ).env_cfg.dist_cfg.to_dict())


def test_student_trains_and_tests_on_two_cpu_processes(synthetic_data, tmp_path):
    work_dir = str(tmp_path / 'student')
    opts = dist_options(synthetic_data['root'])
    log = run_script('tools/dist_train.sh', 'configs/ivslab/student.py', '2',
                     '--work-dir', work_dir, '--cfg-options', *opts)
    check_two_ranks(work_dir, log)
    ckpt = osp.join(work_dir, 'epoch_1.pth')
    model = MODELS.build(Config.fromfile(
        osp.join(REPO_ROOT, 'configs', 'ivslab', 'student.py')).model)
    loaded = load_checkpoint(model, ckpt, map_location='cpu', strict=True)
    # 24 faces / (4 per step x 2 ranks)
    assert loaded['meta']['iter'] == 3

    out = str(tmp_path / 'metrics.json')
    run_script('tools/dist_test.sh', 'configs/ivslab/student.py', ckpt, '2',
               '--work-dir', str(tmp_path / 'test'), '--out', out, '--cfg-options', *opts)
    metrics = json.load(open(out))
    assert 0.0 < metrics['NME_pupil'] < 100


def test_student_kd_trains_on_two_cpu_processes(synthetic_data, tmp_path):
    teacher_cfg = osp.join(REPO_ROOT, 'configs', 'ivslab', 'teacher_cpu.py')
    torch.manual_seed(2)
    teacher = MODELS.build(Config.fromfile(teacher_cfg).model)
    teacher_ckpt = str(tmp_path / 'teacher.pth')
    torch.save(dict(state_dict=teacher.state_dict()), teacher_ckpt)

    work_dir = str(tmp_path / 'kd')
    log = run_script('tools/dist_train.sh', 'configs/ivslab/student_kd.py', '2',
                     '--work-dir', work_dir, '--cfg-options',
                     *dist_options(synthetic_data['root']),
                     f'model.teacher_cfg={teacher_cfg}', f'model.teacher_ckpt={teacher_ckpt}')
    check_two_ranks(work_dir, log)
    assert 'distill.loss_logit' in log
    ckpt = osp.join(work_dir, 'epoch_1.pth')
    saved = _load_checkpoint(ckpt, map_location='cpu')['state_dict']
    for name, value in teacher.state_dict().items():  # the teacher was loaded
        assert torch.equal(saved[f'teacher.{name}'], value), name
    kd_cfg = Config.fromfile(osp.join(REPO_ROOT, 'configs', 'ivslab', 'student_kd.py'))
    kd = MODELS.build(dict(kd_cfg.model, teacher_cfg=teacher_cfg, teacher_ckpt=teacher_ckpt))
    load_checkpoint(kd, ckpt, map_location='cpu', strict=True)
