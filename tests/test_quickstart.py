"""The quickstart end to end on the synthetic data with one-epoch schedules:
every step runs, the report is written, and its numbers are what
tools/test.py prints for the same checkpoint."""
import json
import os.path as osp
import shutil

import pytest

from conftest import cpu_options, run_tool
from ivslab_plugin.quickstart import QuickstartSettings, run_quickstart

pytestmark = pytest.mark.slow


def test_quickstart_writes_a_report_that_matches_test_py(synthetic_data, tmp_path,
                                                         monkeypatch):
    # The quickstart tests with one thread; the rerun must too: on one-epoch
    # models' flat heatmaps DARK decoding turns the last-bit differences of
    # another thread count into visible ones.
    monkeypatch.setenv('OMP_NUM_THREADS', '1')
    monkeypatch.setenv('MKL_NUM_THREADS', '1')
    # the synthetic data plus an unlabelled pool: the training faces' boxes
    # with the landmark columns zeroed, as tools/build_sample_data.py writes it
    root = str(tmp_path / 'data')
    shutil.copytree(synthetic_data['root'], root)
    ann = osp.join(root, 'annotations', 'ivslab')
    with open(osp.join(ann, 'train.tsv')) as f, \
            open(osp.join(ann, 'unlabelled.tsv'), 'w') as out:
        for line in f:
            cols = line.rstrip('\n').split('\t')
            zeros = ','.join(['0'] * len(cols[1].split(',')))
            out.write('\t'.join([cols[0], zeros, zeros, *cols[3:]]) + '\n')
    with open(synthetic_data['val']) as f:
        demo_image = f.readline().split('\t')[0]
    settings = QuickstartSettings(work_dir=str(tmp_path / 'qs'), data_root=root,
                                  teacher_epochs=1, epochs=1, batch_size=8, threads=1,
                                  demo_image=demo_image, parity_faces=4, latency_runs=5)
    report = run_quickstart(settings)

    text = open(report).read()
    # the distilled student learnt from the unlabelled pool as well
    for name in ('teacher', 'student', 'student_kd_pool'):
        assert f'| {name} |' in text
    assert 'annotations/ivslab/unlabelled.tsv' in open(osp.join(
        settings.work_dir, 'student_kd_pool', 'student_kd_unlabelled.py')).read()
    # every comparison comes with its interval, and is not called a result
    # unless the interval excludes zero
    assert '95 % interval' in text
    assert 'teacher vs student alone: within noise' in text or \
        'the teacher is better than the student alone' in text
    # the efficiency table has the distilled student on ONNX Runtime, in INT8 too
    assert '| student_kd_pool | onnxruntime |' in text
    assert '| student_kd_pool | onnxruntime-int8 |' in text
    report_dir = osp.dirname(report)
    for png in ('training.png', 'ced.png', 'test_faces.png', 'demo.png', 'pareto.png'):
        assert osp.getsize(osp.join(report_dir, png)) > 1000
    results = json.load(open(osp.join(report_dir, 'results.json')))['results']

    # a rerun of tools/test.py on the distilled student reproduces the report
    out = str(tmp_path / 'rerun.json')
    run_tool('tools/test.py', 'configs/ivslab/student.py',
             results['student_kd_pool']['checkpoint'], '--work-dir', str(tmp_path / 'rerun'),
             '--out', out, '--cfg-options', *cpu_options(root))
    rerun = json.load(open(out))
    assert rerun['NME_pupil'] == pytest.approx(results['student_kd_pool']['NME_pupil'], rel=1e-6)
    assert f'{rerun["NME_pupil"]:.4f}' in text
