"""The quickstart end to end on the synthetic data with one-epoch schedules:
every step runs, the report is written, and its numbers are what
tools/test.py prints for the same checkpoint."""
import json
import os.path as osp

import pytest

from ivslab_plugin.apis.quickstart import QuickstartSettings, run_quickstart

from .test_train_test_e2e import cpu_options, run_tool

pytestmark = pytest.mark.slow


def test_quickstart_writes_a_report_that_matches_test_py(synthetic_data, tmp_path,
                                                         monkeypatch):
    # The quickstart tests with one thread; the rerun must too: on one-epoch
    # models' flat heatmaps DARK decoding turns the last-bit differences of
    # another thread count into visible ones.
    monkeypatch.setenv('OMP_NUM_THREADS', '1')
    monkeypatch.setenv('MKL_NUM_THREADS', '1')
    root = synthetic_data['root']
    with open(synthetic_data['val']) as f:
        demo_image = f.readline().split('\t')[0]
    settings = QuickstartSettings(work_dir=str(tmp_path / 'qs'), data_root=root,
                                  teacher_epochs=1, epochs=1, batch_size=8, threads=1,
                                  demo_image=demo_image, parity_faces=4, latency_runs=5)
    report = run_quickstart(settings)

    text = open(report).read()
    for name in ('teacher', 'student', 'student_kd'):
        assert f'| {name} |' in text
    # the efficiency table has the distilled student on ONNX Runtime, in INT8 too
    assert '| student_kd | onnxruntime |' in text
    assert '| student_kd | onnxruntime-int8 |' in text
    report_dir = osp.dirname(report)
    for png in ('training.png', 'ced.png', 'test_faces.png', 'demo.png', 'pareto.png'):
        assert osp.getsize(osp.join(report_dir, png)) > 1000
    results = json.load(open(osp.join(report_dir, 'results.json')))['results']

    # a rerun of tools/test.py on the distilled student reproduces the report
    out = str(tmp_path / 'rerun.json')
    run_tool('tools/test.py', 'configs/ivslab/student.py',
             results['student_kd']['checkpoint'], '--work-dir', str(tmp_path / 'rerun'),
             '--out', out, '--cfg-options', *cpu_options(root))
    rerun = json.load(open(out))
    assert rerun['NME_pupil'] == pytest.approx(results['student_kd']['NME_pupil'], rel=1e-6)
    assert f'{rerun["NME_pupil"]:.4f}' in text
