"""Deploy configs, MMDeploy export to ONNX Runtime / SDK, and parity."""
import glob
import json
import os.path as osp

import numpy as np
import onnx
import pytest
from mmengine.config import Config

from conftest import REPO_ROOT
from ivslab_plugin.deploy import build_backend, deploy_config_path, head_kind
from ivslab_plugin.deploy.configs import check_deploy_config
from ivslab_plugin.deploy.convert.mmdeploy import export_model
from ivslab_plugin.deploy.infer.backends import TorchBackend
from ivslab_plugin.deploy.verify.parity import ParityReport, check_parity, synthetic_samples

DEPLOY_CONFIGS = sorted(
    glob.glob(osp.join(REPO_ROOT, 'configs', 'ivslab', 'deploy', '*.py')))


@pytest.mark.parametrize('path', DEPLOY_CONFIGS, ids=osp.basename)
def test_deploy_configs_are_self_contained(path, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = Config.fromfile(path)
    name = osp.basename(path)
    assert cfg.codebase_config.task == 'PoseDetection'
    outputs = list(cfg.onnx_config.output_names)
    assert outputs == (['simcc_x', 'simcc_y'] if '_simcc_' in name else
                       ['output'])
    assert bool(cfg.onnx_config.get('dynamic_axes')) == ('dynamic' in name)
    assert cfg.backend_config.get('precision', 'fp32') == (
        'fp16' if 'fp16' in name else 'fp32')
    assert cfg.dump_info == ('_sdk_' in name)
    if cfg.onnx_config.get('dynamic_axes'):
        assert set(cfg.onnx_config.dynamic_axes) == {'input', *outputs}


def test_deploy_config_choice(tiny_models):
    teacher = Config.fromfile(osp.join(REPO_ROOT, 'configs/ivslab/teacher.py'))
    assert head_kind(teacher) == 'simcc'
    heatmap = Config.fromfile(tiny_models['heatmap'][0])
    assert head_kind(heatmap) == 'heatmap'
    path = deploy_config_path(heatmap, 'fp16', dynamic=True)
    assert osp.basename(path) == \
        'pose-detection_heatmap_onnxruntime-fp16_dynamic.py'
    # a SimCC model with a one-output deploy config fails early and clearly
    with pytest.raises(ValueError, match='simcc head with 2 output'):
        check_deploy_config(Config.fromfile(deploy_config_path(heatmap)),
                            teacher)
    with pytest.raises(ValueError, match='fp32 and static'):
        deploy_config_path(teacher, 'fp16', sdk=True)


def _input_batch_dim(path):
    dim = onnx.load(path).graph.input[0].type.tensor_type.shape.dim[0]
    return dim.dim_param or dim.dim_value


@pytest.mark.parametrize('kind,precision,dynamic', [
    ('simcc', 'fp16', True),
    ('heatmap', 'fp32', True),
    ('heatmap', 'fp16', False),
])
def test_export_and_parity(tiny_models, tmp_path, kind, precision, dynamic):
    cfg, ckpt = tiny_models[kind]
    deploy_cfg = deploy_config_path(Config.fromfile(cfg), precision, dynamic)
    result = export_model(cfg, ckpt, str(tmp_path), deploy_cfg)
    onnx_file = result.backend_files[0]
    assert _input_batch_dim(onnx_file) == ('batch' if dynamic else 1)
    inits = onnx.load(onnx_file).graph.initializer
    has_fp16 = any(t.data_type == onnx.TensorProto.FLOAT16 for t in inits)
    assert has_fp16 == (precision == 'fp16')
    assert result.sdk_dir is None

    reference = TorchBackend(cfg, ckpt, flip_test=False)
    backend = build_backend(str(tmp_path))  # rebuilt from the work dir
    report = check_parity(reference, backend, synthetic_samples(2),
                          raw_tol=1e-4 if precision == 'fp32' else 1e-2,
                          px_tol=1e-3 if precision == 'fp32' else 0.5,
                          gate_on_p99=precision == 'fp16',
                          raw_relative=precision == 'fp16')
    assert report.passed, report.lines()
    assert report.num_faces == 4
    assert len(report.raw) == (2 if kind == 'simcc' else 1)


def test_parity_fails_on_a_different_model(tiny_models, simcc_sdk_export):
    """The check can fail: the same graph against other weights."""
    cfg, ckpt = tiny_models['simcc']
    from test_deploy.tiny_models import write_tiny_model
    other_cfg, other_ckpt = write_tiny_model(
        osp.dirname(simcc_sdk_export.work_dir), 'simcc', seed=5)
    reference = TorchBackend(other_cfg, other_ckpt, flip_test=False)
    backend = build_backend(simcc_sdk_export.backend_files[0])
    report = check_parity(reference, backend, synthetic_samples(1))
    assert not report.passed
    assert min(report.raw.values()) > 1e-3
    with pytest.raises(ValueError, match='flip_test=False'):
        check_parity(TorchBackend(cfg, ckpt), backend, synthetic_samples(1))
    assert 'raw outputs agree' not in '\n'.join(report.lines())


def test_parity_report_names_flat_maps_when_only_keypoints_differ():
    # raw outputs within their bound, keypoints not: the report fails and
    # says that the model file is faithful (flat maps, not the export)
    report = ParityReport(backend='onnxruntime', num_faces=8, raw={'output': 1.6e-9},
                          raw_scale={'output': 0.0038}, keypoints_px=113.9,
                          raw_tol=1e-3, px_tol=0.05)
    assert not report.passed
    assert 'raw outputs agree' in report.lines()[-1]
    report.keypoints_px = 0.01
    assert report.passed and 'raw outputs agree' not in '\n'.join(report.lines())


def test_sdk_export_loads_in_pose_detector(tiny_models, simcc_sdk_export):
    pytest.importorskip('mmdeploy_runtime',
                        reason='mmdeploy-runtime (the MMDeploy SDK) missing')
    from mmdeploy_runtime import PoseDetector
    sdk_dir = simcc_sdk_export.sdk_dir
    for name in ('deploy.json', 'pipeline.json', 'detail.json',
                 'end2end.onnx'):
        assert osp.isfile(osp.join(sdk_dir, name)), name
    image, boxes = synthetic_samples(1)[0]
    out = PoseDetector(model_path=sdk_dir, device_name='cpu',
                       device_id=0)(image, boxes.tolist())
    assert np.asarray(out).shape == (2, 51, 3)

    # The SDK crops and decodes in its own C++. On this 150-step model's
    # nearly flat maps it disagrees on some points by tens of px (the parity
    # gate is for trained models: test_shipped_student_sdk, docs/embedded.md),
    # but its crop and box convention must agree: most points match.
    cfg, ckpt = tiny_models['simcc']
    report = check_parity(TorchBackend(cfg, ckpt, flip_test=False),
                          build_backend(sdk_dir, sdk=True), synthetic_samples(4),
                          px_tol=1.0)
    assert report.median_px < 1.0, report.lines()


def test_sdk_pipeline_gets_the_config_padding(tmp_path):
    """MMDeploy writes padding 1.25 whatever the config says; the export
    writes the config's."""
    from mmengine.registry import init_default_scope
    from test_deploy.tiny_models import write_tiny_model
    init_default_scope('mmpose')
    cfg, ckpt = write_tiny_model(str(tmp_path), 'simcc', padding=1.4)
    deploy_cfg = deploy_config_path(Config.fromfile(cfg), sdk=True)
    result = export_model(cfg, ckpt, str(tmp_path / 'sdk'), deploy_cfg)
    with open(osp.join(result.sdk_dir, 'pipeline.json')) as f:
        tasks = json.load(f)['pipeline']['tasks']
    paddings = [t['padding'] for task in tasks
                for t in task.get('transforms', [])
                if t['type'] == 'TopDownGetBboxCenterScale']
    assert paddings == [1.4]
    assert result.notes
    assert build_backend(result.sdk_dir, sdk=True).bbox_padding == 1.4


def test_export_bad_inputs(tiny_models, tmp_path):
    cfg, ckpt = tiny_models['simcc']
    deploy_cfg = deploy_config_path(Config.fromfile(cfg))
    with pytest.raises(FileNotFoundError, match='checkpoint not found'):
        export_model(cfg, str(tmp_path / 'missing.pth'), str(tmp_path),
                     deploy_cfg)
    with pytest.raises(ValueError, match='output_names'):
        export_model(cfg, ckpt, str(tmp_path), deploy_config_path(
            Config.fromfile(tiny_models['heatmap'][0])))


def test_sdk_decoding_follows_the_codec(tmp_path):
    """MMDeploy writes `post_process: default` for every MSRAHeatmap; a DARK
    (unbiased) codec gets the SDK's `unbiased` decoding."""
    from ivslab_plugin.deploy.convert.mmdeploy import fix_sdk_decoding
    decode = dict(component='TopdownHeatmapSimpleHeadDecode',
                  params=dict(post_process='default', unbiased=True))
    info = dict(pipeline=dict(tasks=[dict(type='Task', transforms=[]), decode]))
    with open(tmp_path / 'pipeline.json', 'w') as f:
        json.dump(info, f)

    def post_process() -> str:
        with open(tmp_path / 'pipeline.json') as f:
            return json.load(f)['pipeline']['tasks'][1]['params']['post_process']

    assert not fix_sdk_decoding(str(tmp_path), dict(type='MSRAHeatmap', unbiased=False))
    assert not fix_sdk_decoding(str(tmp_path), dict(type='SimCCLabel'))
    assert post_process() == 'default'
    assert fix_sdk_decoding(str(tmp_path), dict(type='MSRAHeatmap', unbiased=True))
    assert post_process() == 'unbiased'
    assert not fix_sdk_decoding(str(tmp_path), dict(type='MSRAHeatmap', unbiased=True))


def test_shipped_student_sdk(shipped_student, tmp_path):
    """The shipped student (LiteHeatmapHead, DARK) through MMDeploy's SDK:
    the 99th percentile within 1 px, the max within the bound
    (verify/parity.py says why these two). It passes only once the student's
    heatmaps are single-peaked (see the ``shipped_student`` fixture)."""
    from ivslab_plugin.deploy.verify.parity import P99_MAX_PX_BOUND, SDK_P99_PX_TOL
    cfg, ckpt = shipped_student
    result = export_model(cfg, ckpt, str(tmp_path),
                          deploy_config_path(Config.fromfile(cfg), sdk=True))
    assert 'DARK' in ' '.join(result.notes)  # post_process: unbiased
    report = check_parity(TorchBackend(cfg, ckpt, flip_test=False),
                          build_backend(result.sdk_dir, sdk=True),
                          synthetic_samples(4, seed=11), None, SDK_P99_PX_TOL)
    assert report.gate_on_p99 and report.max_bound == P99_MAX_PX_BOUND
    assert report.passed, '\n'.join(report.lines())
