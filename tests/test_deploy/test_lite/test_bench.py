"""The latency comparison (``lite.bench``, ``tools/analysis/e2e_latency.py``):
what it times, what it refuses to time, and how it reports. Speed itself is
measured by the tool, not asserted here."""
import os.path as osp
import subprocess
import sys

import cv2
import numpy as np
import pytest
from test_deploy.deploy_fixtures import GRACE_HOPPER
from test_deploy.tiny_models import REPO_ROOT

from ivslab_plugin.deploy.lite.bench import (
    MEDIAPIPE,
    PEER_PATHS,
    STAGES,
    Comparison,
    Timing,
    compare,
    glue,
    round_robin,
)
from ivslab_plugin.deploy.lite.detect import HaarFaceDetector
from ivslab_plugin.deploy.lite.landmarker import Landmarker


def test_round_robin_counts_runs_and_faces():
    calls = []
    steps = {'a': lambda: calls.append('a') or 1, 'b': lambda: calls.append('b')}
    t = round_robin(steps, runs=10, warmup=2, rounds=5)
    assert len(t['a'].times) == len(t['b'].times) == 10
    assert t['a'].faces == [1] * 10 and t['b'].faces == [None] * 10
    # warm-up first, then blocks of 2 that alternate between the steps
    assert calls[:4] == ['a', 'a', 'b', 'b'] and calls[4:8] == ['a', 'a', 'b', 'b']
    assert t['a'].missed == 0


def _timing(ms, faces=1):
    return Timing([ms] * 3, [faces] * 3)


def test_comparison_ratio_stages_and_misses():
    p = 'bundle, short: '
    timings = {p + s: _timing(v) for s, v in zip(STAGES, (1.0, 0.2, 0.7, 0.1))}
    timings.update({p + 'detect': _timing(2.5), p + 'track': _timing(1.2),
                    PEER_PATHS['detect']: _timing(5.0),
                    PEER_PATHS['track']: _timing(2.4, faces=0)})
    c = Comparison(timings, ['bundle, short'], {}, '0.10.21')
    table = c.markdown()
    assert '| bundle, short | detect + landmarks | 5.00 / 5.00 | 2.50 / 2.50 | **2.00x** |' \
        in table
    assert '| tracking: landmarks only | 2.40 / 2.40 | 1.20 / 1.20 | **2.00x** |' in table
    # glue: the path's median outside its stages' medians
    assert glue(timings, 'detect', p) == pytest.approx(0.5)
    assert glue(timings, 'track', p) == pytest.approx(0.2)
    assert '| 0.50 / 0.20 |' in table
    # a path whose calls found no face is an error, not a row like the others
    assert c.missed() == [f'{PEER_PATHS["track"]}: no face in 3 of 3 calls']


def test_compare_without_mediapipe_and_without_a_face(student_onnx, monkeypatch):
    monkeypatch.setitem(sys.modules, 'mediapipe', None)  # import fails
    bundle = osp.dirname(student_onnx[2])
    lm = Landmarker.from_bundle(bundle, 1, HaarFaceDetector())
    face = cv2.imread(GRACE_HOPPER)
    blank = np.full_like(face, 128)
    result = compare({'with face': lm}, face, runs=5, warmup=1)
    assert {'with face: detect', 'with face: track'} <= set(result.timings)
    for name in PEER_PATHS.values():
        assert name not in result.timings
        assert f'pip install {MEDIAPIPE}' in result.skipped[name]
    assert result.peer_version is None and not result.missed()
    # no face: reported, never timed
    result = compare({'blank': lm}, blank, runs=5, warmup=1, peer=False)
    assert not result.timings and 'no face found' in result.skipped['blank']
    assert '| blank | no face found, nothing to time |' in result.markdown()


def test_e2e_latency_tool_without_mediapipe(student_onnx, tmp_path):
    bundle = osp.dirname(student_onnx[2])
    tool = osp.join(REPO_ROOT, 'tools', 'analysis', 'e2e_latency.py')
    # the training environment cannot hold MediaPipe (protobuf 4.25 vs 3.20.2)
    proc = subprocess.run([sys.executable, tool, bundle, '--detector', 'haar',
                           '--runs', '5'], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert 'MediaPipe not timed' in proc.stdout
    assert f'pip install {MEDIAPIPE}' in proc.stderr
    assert '| tracking: landmarks only |' in proc.stdout
    proc = subprocess.run([sys.executable, tool, str(tmp_path)],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and 'not an exported bundle' in proc.stderr
