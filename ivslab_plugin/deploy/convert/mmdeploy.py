"""Export a landmark model with MMDeploy's own APIs.

``torch2onnx`` -> ``to_backend`` (fp16 conversion where the deploy config
asks for it) -> ``export2SDK`` (SDK json files) when the deploy config sets
``dump_info = True``.
"""
from __future__ import annotations

import json
import os
import os.path as osp
from dataclasses import dataclass, field
from typing import List, Optional, Union

import numpy as np
from mmengine.config import Config

from ..configs import (
    DEPLOY_CONFIG_NAME,
    MODEL_CONFIG_NAME,
    bbox_padding,
    check_deploy_config,
    deploy_config_path,
    load_cfg,
)
from ..lite.runtimes import OrtRunner
from ..model import DeployModel
from .target import FP32_PARITY, Target, register


@dataclass
class ExportResult:
    """What :func:`export_model` wrote.

    ``backend_files`` are the ONNX files; ``sdk_dir`` is the work directory
    when the SDK files were written, else ``None``.
    """

    work_dir: str
    backend_files: List[str]
    model_config: str
    deploy_config: str
    sdk_dir: Optional[str] = None
    notes: List[str] = field(default_factory=list)


def _edit_pipeline(sdk_dir: str, edit) -> bool:
    """Apply ``edit(transform_or_task) -> bool`` to every task and transform
    of ``pipeline.json``; rewrite the file when anything changed."""
    path = osp.join(sdk_dir, 'pipeline.json')
    with open(path) as f:
        info = json.load(f)
    changed = False
    for task in info['pipeline']['tasks']:
        for item in [task, *task.get('transforms', [])]:
            changed |= bool(edit(item))
    if changed:
        with open(path, 'w') as f:
            json.dump(info, f, indent=4)
    return changed


def fix_sdk_padding(sdk_dir: str, padding: float) -> bool:
    """Write the model config's box padding into ``pipeline.json``.

    MMDeploy 1.3's ``export2SDK`` always writes ``padding=1.25`` for
    ``TopDownGetBboxCenterScale`` (its ``process_model_config`` overrides the
    config's value), so a config with another ``bbox_padding`` would crop
    differently in the SDK than in training.

    Returns:
        bool: whether the file was changed.
    """
    def edit(trans: dict) -> bool:
        if trans.get('type') == 'TopDownGetBboxCenterScale' and trans.get('padding') != padding:
            trans['padding'] = padding
            return True
        return False
    return _edit_pipeline(sdk_dir, edit)


def fix_sdk_decoding(sdk_dir: str, decoder: Optional[dict]) -> bool:
    """Make the SDK decode heatmaps as the head's codec does.

    MMDeploy 1.3 writes ``post_process: default`` (argmax + quarter-pixel
    shift) for every ``MSRAHeatmap``; with ``unbiased=True`` the codec
    decodes with DARK, which the SDK runs as ``post_process: unbiased``
    (measured on the sample-data student: median difference to PyTorch
    0.64 px with ``default``, 0.11 px with ``unbiased``).

    Returns:
        bool: whether the file was changed.
    """
    if not decoder or decoder.get('type') != 'MSRAHeatmap' or not decoder.get('unbiased'):
        return False

    def edit(task: dict) -> bool:
        params = task.get('params')
        if task.get('component') == 'TopdownHeatmapSimpleHeadDecode' and params and \
                params.get('post_process') == 'default':
            params['post_process'] = 'unbiased'
            return True
        return False
    return _edit_pipeline(sdk_dir, edit)


def export_model(model_config: Union[str, Config],
                 checkpoint: str,
                 work_dir: str,
                 deploy_config: Union[str, Config],
                 device: str = 'cpu',
                 dump_info: Optional[bool] = None,
                 sample: Optional[np.ndarray] = None) -> ExportResult:
    """Export a checkpoint to ONNX Runtime (and the SDK) through MMDeploy.

    Args:
        model_config (str | Config): a top-down model config.
        checkpoint (str): its ``.pth``.
        work_dir (str): output directory (created).
        deploy_config (str | Config): one of ``configs/ivslab/deploy``.
        device (str): device for tracing.
        dump_info (bool, optional): write the SDK files; default: the deploy
            config's ``dump_info``.
        sample (np.ndarray, optional): BGR image traced through the model;
            a synthetic face by default (only its shape matters).

    Returns:
        ExportResult: paths of what was written.
    """
    from mmdeploy.apis import torch2onnx
    from mmdeploy.apis.utils import to_backend
    from mmdeploy.backend.sdk.export_info import export2SDK
    from mmdeploy.utils import get_backend

    import ivslab_plugin  # noqa: F401  (legacy ONNX exporter before mmdeploy)

    if not osp.isfile(checkpoint):
        raise FileNotFoundError(f'checkpoint not found: {checkpoint}')
    model_cfg, deploy_cfg = load_cfg(model_config), load_cfg(deploy_config)
    check_deploy_config(deploy_cfg, model_cfg)
    os.makedirs(work_dir, exist_ok=True)
    # Saved beside the backend files so a backend can be rebuilt from the
    # work directory alone (see ``build_backend``).
    model_path = osp.join(work_dir, MODEL_CONFIG_NAME)
    deploy_path = osp.join(work_dir, DEPLOY_CONFIG_NAME)
    model_cfg.dump(model_path)
    deploy_cfg.dump(deploy_path)

    if sample is None:
        from ivslab_plugin.sample_data.synthetic import synthetic_face
        sample, _ = synthetic_face(np.random.default_rng(0), (256, 256))
    save_file = deploy_cfg.onnx_config.save_file
    torch2onnx(sample, work_dir, save_file, deploy_cfg, model_cfg,
               checkpoint, device)
    ir_file = osp.join(work_dir, save_file)
    backend = get_backend(deploy_cfg).value
    backend_files = list(
        to_backend(backend, [ir_file], work_dir, deploy_cfg, device=device))

    result = ExportResult(work_dir, backend_files, model_path, deploy_path)
    if dump_info if dump_info is not None else deploy_cfg.get(
            'dump_info', False):
        export2SDK(deploy_cfg, model_cfg, work_dir, pth=checkpoint,
                   device=device)
        padding = bbox_padding(model_cfg)
        if fix_sdk_padding(work_dir, padding):
            result.notes.append(
                f'pipeline.json: box padding set to the config\'s {padding}')
        if fix_sdk_decoding(work_dir, model_cfg.model.get('head', {}).get('decoder')):
            result.notes.append('pipeline.json: DARK (unbiased) heatmap decoding, as the codec')
        result.sdk_dir = work_dir
    return result


def export_onnxruntime(model: DeployModel, checkpoint: str, work_dir: str) -> str:
    """The fp32, batch-1 ONNX file of MMDeploy's export (the shipped
    deploy config of the model's head)."""
    return export_model(model.cfg, checkpoint, work_dir,
                        deploy_config_path(model.cfg)).backend_files[0]


register(Target('onnxruntime', runner=OrtRunner.name,
                needs=('mmdeploy', 'onnxruntime'), export=export_onnxruntime,
                parity=FP32_PARITY))
