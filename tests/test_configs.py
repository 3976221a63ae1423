import glob
import os.path as osp

import pytest
from mmengine.config import Config
from mmpose.registry import MODELS

from conftest import REPO_ROOT

CONFIGS = sorted(
    p for p in glob.glob(osp.join(REPO_ROOT, 'configs', 'ivslab', '*.py')))


def test_configs_exist():
    names = {osp.basename(p) for p in CONFIGS}
    assert 'teacher.py' in names


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_config_loads_and_builds_on_cpu(path, tmp_path, monkeypatch):
    # configs must not depend on the working directory
    monkeypatch.chdir(tmp_path)
    cfg = Config.fromfile(path)
    assert cfg.custom_imports['imports'] == ['ivslab_plugin']
    assert cfg.default_hooks.checkpoint.save_best == 'NME_pupil'
    assert cfg.default_hooks.checkpoint.rule == 'less'
    model = MODELS.build(cfg.model)
    assert sum(p.numel() for p in model.parameters()) > 0


@pytest.mark.parametrize('path', CONFIGS, ids=osp.basename)
def test_mmpose_init_model_finds_the_metainfo(path, tmp_path, monkeypatch):
    # MMPose's own API reads the dataset metainfo without the plugin's
    # lookup, from whatever the working directory is.
    from mmpose.apis import init_model
    if Config.fromfile(path).model.type != 'TopdownPoseEstimator':
        pytest.skip('init_model builds single pose models, not distillers')
    monkeypatch.chdir(tmp_path)
    model = init_model(path, None, device='cpu')
    assert model.dataset_meta['dataset_name'] == 'ivslab'
    assert len(model.dataset_meta['flip_indices']) == 51
