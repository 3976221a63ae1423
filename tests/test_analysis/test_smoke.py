"""tools/gpu_smoke.sh cannot run without a GPU; what can be checked on a CPU
is: its arguments, the commands it would run (--dry-run) and the Python it
calls (ivslab_plugin.analysis.smoke) on a real short CPU run."""
import json
import os
import subprocess
import sys

import pytest

from conftest import REPO_ROOT, cpu_options, run_tool
from ivslab_plugin.analysis.smoke import epochs_for_iters, model_latency, training_throughput


def smoke(*args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHON=sys.executable)
    return subprocess.run(['bash', 'tools/gpu_smoke.sh', *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_epochs_for_iters():
    # 422 faces at batch 64: 7 steps an epoch, so 300 steps need 43 epochs
    assert epochs_for_iters(422, 64, 300) == 43
    assert epochs_for_iters(422, 64, 7) == 1
    assert epochs_for_iters(422, 64, 8) == 2
    assert epochs_for_iters(422, 32, 300, world_size=2) == 43
    with pytest.raises(ValueError, match='positive'):
        epochs_for_iters(0, 64, 300)


def test_gpu_smoke_rejects_bad_arguments():
    proc = smoke('--iters', 'many')
    assert proc.returncode == 2 and 'positive integers' in proc.stderr
    proc = smoke('--frobnicate')
    assert proc.returncode == 2 and 'unknown argument --frobnicate' in proc.stderr


def test_gpu_smoke_dry_run_prints_the_plan(synthetic_data, tmp_path):
    proc = smoke('--dry-run', '--data-root', synthetic_data['root'], '--work-dir',
                 str(tmp_path / 'smoke'), '--iters', '12', '--batch', '4', '--workers', '3')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    # 24 synthetic faces at batch 4: 6 steps an epoch, 2 epochs for 12 steps
    assert '24 training faces, batch 4: 2 epochs for >= 12 steps' in out
    train = [line for line in out.splitlines() if line.startswith('+') and 'tools/train.py' in line]
    assert len(train) == 2
    assert 'configs/ivslab/teacher.py' in train[0]
    assert 'model.backbone.init_cfg=None' in train[0]  # offline by default
    assert 'custom_hooks.2.switch_epoch=1' in train[0]  # stage 2 is exercised
    assert 'model.teacher_ckpt=' in train[1] and 'epoch_2.pth' in train[1]
    for step in ('tools/test.py configs/ivslab/teacher.py', 'tools/deploy.py',
                 'smoke_figures.py throughput',
                 'smoke_figures.py latency configs/ivslab/student.py'):
        assert step in out, step
    assert 'MMCV_WITH_OPS=1 FORCE_CUDA=1' in out  # compiles mmcv's CUDA ops if missing
    assert all('train_dataloader.num_workers=3' in line for line in train)


def test_gpu_smoke_skip_ops_build(synthetic_data, tmp_path):
    proc = smoke('--dry-run', '--skip-ops-build', '--data-root', synthetic_data['root'],
                 '--work-dir', str(tmp_path / 'smoke'), '--iters', '12', '--batch', '4')
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "mmcv's CUDA ops are missing; not compiled (--skip-ops-build)" in proc.stdout
    assert 'MMCV_WITH_OPS' not in proc.stdout


@pytest.mark.slow
def test_smoke_measurements_on_a_cpu_run(synthetic_data, tmp_path):
    work_dir = str(tmp_path / 'student')
    run_tool('tools/train.py', 'configs/ivslab/student.py', '--work-dir', work_dir,
             '--no-validate', '--cfg-options', *cpu_options(synthetic_data['root']),
             'train_cfg.max_epochs=1')
    # 24 faces, batch 4: 6 logged steps, 2 of them skipped
    res = training_throughput(work_dir, batch_size=4)
    assert res['logged_steps'] == 4
    assert res['images_per_s'] == pytest.approx(4 / res['step_s'])
    (scalars, ) = [os.path.join(r, f) for r, _, fs in os.walk(work_dir) for f in fs
                   if f == 'scalars.json']
    rows = [json.loads(line) for line in open(scalars) if '"loss"' in line]
    times = [row['time'] for row in rows]
    assert res['step_s'] == pytest.approx(sum(times[2:]) / len(times[2:]))
    data_times = [row['data_time'] for row in rows]
    assert res['data_s'] == pytest.approx(sum(data_times[2:]) / len(data_times[2:]))
    assert 0 < res['data_s'] < res['step_s']
    lat = model_latency(os.path.join(REPO_ROOT, 'configs/ivslab/student.py'),
                        os.path.join(work_dir, 'epoch_1.pth'), device='cpu', runs=5, warmup=1)
    assert 0 < lat['median_ms'] <= lat['p90_ms']
    with pytest.raises(FileNotFoundError):
        training_throughput(str(tmp_path), batch_size=4)


@pytest.mark.slow
def test_gpu_smoke_runs_every_step_on_a_cpu(synthetic_data, tmp_path):
    # the whole script for real, but on the CPU: every command it runs on a
    # GPU machine (training with the stage-2 switch and EMA, distillation
    # from that teacher, tests, export with parity, throughput, latency)
    work_dir = tmp_path / 'smoke'
    # 24 faces at batch 6: 4 steps an epoch, 3 epochs; one log per epoch.
    # A 12-step student's heatmaps are flat, so its keypoints are not
    # determined (ONNX Runtime and PyTorch pick different near-equal cells):
    # only the raw-output bound gates this export.
    proc = smoke('--cpu', '--data-root', synthetic_data['root'], '--work-dir', str(work_dir),
                 '--iters', '12', '--batch', '6', '--px-tol', '1e6')
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-6000:]
    assert 'GPU checks skipped' in out
    # the teacher's stage 2 ran, and the distiller loaded that teacher
    assert 'Switch pipeline now!' in out
    assert f'from path: {work_dir}/teacher/epoch_3.pth' in out
    for name in ('teacher', 'student'):
        metrics = json.loads((work_dir / f'{name}_metrics.json').read_text())
        (nme, ) = [v for k, v in metrics.items() if k.endswith('NME_pupil')]
        assert 0 < nme < 10, metrics
    assert (work_dir / 'deploy' / 'end2end.onnx').is_file()
    assert 'PASSED' in out.split('parity onnxruntime vs pytorch')[1]
    assert out.count(' images/s (') == 2 and out.count(' ms of it waiting for data;') == 2
    assert 'teacher.py on cpu: median' in out and 'student.py on cpu: median' in out
