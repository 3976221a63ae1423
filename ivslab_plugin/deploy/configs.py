"""Model and deploy configs: pick the shipped MMDeploy deploy configs, and
read what an export needs from a model config."""
from __future__ import annotations

import os.path as osp
from typing import Union

from mmengine.config import Config

from ..utils import shipped_config

#: ``configs/ivslab/deploy`` as shipped with the package.
DEPLOY_CONFIG_DIR = shipped_config('ivslab', 'deploy')

#: Files an export writes beside the model, so the folder alone rebuilds the
#: full-stack backend.
MODEL_CONFIG_NAME = 'model_config.py'
DEPLOY_CONFIG_NAME = 'deploy_config.py'

#: Heads whose ONNX graph has two outputs (``simcc_x``, ``simcc_y``).
SIMCC_CODECS = ('SimCCLabel', )


def head_kind(model_cfg: Config) -> str:
    """``'simcc'`` or ``'heatmap'``: which deploy config family fits a model.

    Decided by the codec, as MMDeploy's backend model decodes by codec type.

    Raises:
        ValueError: for codecs MMDeploy cannot decode from one or two outputs
            (regression models are not supported here).
    """
    codec = model_cfg.get('codec')
    if codec is None:
        codec = model_cfg.model.head.get('decoder')
    if isinstance(codec, (list, tuple)):
        codec = codec[-1]
    if codec is None or 'type' not in codec:
        raise ValueError('the model config has no `codec` (nor head.decoder): '
                         'cannot tell a SimCC head from a heatmap head')
    if codec['type'] in SIMCC_CODECS:
        return 'simcc'
    if codec['type'] in ('MSRAHeatmap', 'UDPHeatmap', 'MegviiHeatmap'):
        return 'heatmap'
    raise ValueError(f'unsupported codec {codec["type"]!r}: use a SimCC or a '
                     'heatmap head')


def deploy_config_path(model_cfg: Config,
                       precision: str = 'fp32',
                       dynamic: bool = False,
                       sdk: bool = False) -> str:
    """The shipped deploy config for a model config.

    Args:
        model_cfg (Config): the model config.
        precision (str): ``'fp32'`` or ``'fp16'``.
        dynamic (bool): dynamic batch size instead of 1.
        sdk (bool): also write the MMDeploy SDK files (fp32, static only).

    Returns:
        str: path of a file in ``configs/ivslab/deploy``.
    """
    if precision not in ('fp32', 'fp16'):
        raise ValueError(f'precision must be fp32 or fp16, got {precision!r}')
    kind = head_kind(model_cfg)
    if sdk:
        if precision != 'fp32' or dynamic:
            raise ValueError('the SDK deploy configs are fp32 and static')
        name = f'pose-detection_{kind}_sdk_onnxruntime_static.py'
    else:
        backend = 'onnxruntime' if precision == 'fp32' else 'onnxruntime-fp16'
        shape = 'dynamic' if dynamic else 'static'
        name = f'pose-detection_{kind}_{backend}_{shape}.py'
    return osp.join(DEPLOY_CONFIG_DIR, name)


def load_cfg(cfg: Union[str, Config]) -> Config:
    """A config from a path or a Config (copied, so callers may edit it)."""
    if isinstance(cfg, Config):
        return cfg.copy()
    if not osp.isfile(cfg):
        raise FileNotFoundError(f'config file not found: {cfg}')
    return Config.fromfile(cfg)


def with_absolute_metainfo(model_cfg: Config) -> Config:
    """A copy whose dataset ``metainfo.from_file`` is an absolute path.

    The configs name the metainfo file relative to this package
    (``'ivslab51.py'``), which ``IvslabFaceDataset`` resolves but MMPose's
    ``init_model`` and MMDeploy's backend model (``parse_pose_metainfo``)
    do not.
    """
    from ivslab_plugin.datasets import resolve_metainfo_file
    cfg = model_cfg.copy()
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        dataset = (cfg.get(loader) or {}).get('dataset')
        while dataset is not None and 'dataset' in dataset:
            dataset = dataset['dataset']
        meta = (dataset or {}).get('metainfo')
        if meta and 'from_file' in meta:
            meta['from_file'] = resolve_metainfo_file(meta['from_file'])
    return cfg


def check_deploy_config(deploy_cfg: Config, model_cfg: Config) -> None:
    """Fail early when a deploy config does not fit the model's head.

    A SimCC model exported with one output name (or a heatmap model with two)
    only fails much later, in MMDeploy's backend model, with
    ``ValueError: not enough values to unpack``.
    """
    outputs = list(deploy_cfg.onnx_config.get('output_names', []))
    kind = head_kind(model_cfg)
    expected = 2 if kind == 'simcc' else 1
    if len(outputs) != expected:
        raise ValueError(
            f'deploy config has output_names={outputs} but the model has a '
            f'{kind} head with {expected} output(s); use '
            f'configs/ivslab/deploy/pose-detection_{kind}_*.py')


def bbox_padding(model_cfg: Config) -> float:
    """The ``GetBBoxCenterScale`` padding of the model's test pipeline."""
    for t in model_cfg.test_dataloader.dataset.pipeline:
        if t['type'] == 'GetBBoxCenterScale':
            return float(t.get('padding', 1.25))
    raise ValueError('the model test pipeline has no GetBBoxCenterScale: '
                     'not a top-down config')


def save_model_config(model_cfg: Union[str, Config], work_dir: str) -> str:
    """Write ``model_config.py`` into ``work_dir`` (unless it is that
    file already)."""
    path = osp.join(work_dir, MODEL_CONFIG_NAME)
    if isinstance(model_cfg, str) and osp.abspath(model_cfg) == path:
        return path
    load_cfg(model_cfg).dump(path)
    return path


def copy_configs(src_dir: str, dst_dir: str, names) -> None:
    """Copy the saved configs of one export next to another's files."""
    import shutil
    for name in names:
        shutil.copyfile(osp.join(src_dir, name), osp.join(dst_dir, name))


def model_config_beside(path: str) -> str:
    """The ``model_config.py`` saved next to an exported model file."""
    cfg = osp.join(osp.dirname(osp.abspath(path)), MODEL_CONFIG_NAME)
    if not osp.isfile(cfg):
        raise FileNotFoundError(
            f'{cfg} not found: pass the model config explicitly, or export '
            'with tools/deploy.py or tools/deploy_embedded.py, which save it '
            'beside the model')
    return cfg
