"""Real face crops for INT8 calibration, and NME of any runner on a split.

Both use the model config's own dataset and **test** pipeline
(``GetBBoxCenterScale`` + ``TopdownAffine``, no augmentation) and its data
pre-processor, so the crops are exactly what the deployed network sees.
"""
from __future__ import annotations

import os.path as osp
from typing import Dict, List, Optional, Union

import numpy as np
import torch
from mmengine.config import Config

from ..configs import load_cfg
from .common import Runner, decode_outputs, load_estimator


def _dataset(model_cfg: Config, split: str, data_root: Optional[str]):
    """The config's ``split`` ('train' or 'test') dataset with the test
    pipeline (the crop the deployed network gets)."""
    from mmengine.registry import init_default_scope
    from mmpose.registry import DATASETS
    if split not in ('train', 'test'):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    init_default_scope(model_cfg.get('default_scope', 'mmpose'))
    ds_cfg = model_cfg[f'{split}_dataloader'].dataset.copy()
    ds_cfg.pipeline = model_cfg.test_dataloader.dataset.pipeline
    if data_root is not None:
        if not osp.isdir(data_root):
            raise FileNotFoundError(f'data root not found: {data_root}')
        ds_cfg.data_root = data_root
    ds_cfg.test_mode = True  # no sampling or filtering of training faces
    return DATASETS.build(ds_cfg)


def calibration_crops(model_config: Union[str, Config],
                      data_root: Optional[str] = None,
                      num: int = 128, seed: int = 0) -> np.ndarray:
    """Normalised crops of ``num`` training faces, drawn at random (without
    replacement) from the training annotations.

    Returns:
        np.ndarray: (num, 3, H, W) float32, as the network's input.
    """
    from mmengine.dataset import pseudo_collate
    cfg = load_cfg(model_config)
    dataset = _dataset(cfg, 'train', data_root)
    if len(dataset) == 0:
        raise ValueError('the training split has no faces to calibrate on')
    idx = np.random.default_rng(seed).permutation(len(dataset))[:num]
    model = load_estimator(cfg)
    crops = []
    with torch.no_grad():
        for i in idx:
            data = model.data_preprocessor(pseudo_collate([dataset[int(i)]]),
                                           False)
            crops.append(data['inputs'].numpy())
    return np.concatenate(crops).astype(np.float32)


def evaluate_runner(runner: Runner, model_config: Union[str, Config],
                    data_root: Optional[str] = None,
                    split: str = 'test',
                    max_faces: Optional[int] = None) -> Dict[str, float]:
    """NME etc. of a runner on a split, through the plugin's
    ``FaceLandmarkMetric`` (the config's ``test_evaluator``), one face at a
    time, without flip test (exported graphs do not flip).

    Returns:
        dict: the metric's results (``NME_pupil``, ``NME_ocular``, ...).
    """
    from mmengine.dataset import pseudo_collate
    from mmpose.registry import METRICS
    cfg = load_cfg(model_config)
    dataset = _dataset(cfg, split, data_root)
    model = load_estimator(cfg)
    model.dataset_meta = dataset.metainfo
    ev_cfg = cfg.test_evaluator
    ev_cfg = ev_cfg[0] if isinstance(ev_cfg, (list, tuple)) else ev_cfg
    metric = METRICS.build(ev_cfg)
    metric.dataset_meta = dataset.metainfo
    n = len(dataset) if max_faces is None else min(max_faces, len(dataset))
    if n == 0:
        raise ValueError(f'the {split} split has no faces')
    for i in range(n):
        with torch.no_grad():
            data = model.data_preprocessor(pseudo_collate([dataset[i]]), False)
        outputs = runner(data['inputs'].numpy().astype(np.float32))
        results = decode_outputs(model, outputs, data['data_samples'])
        metric.process([], [r.to_dict() for r in results])
    return metric.compute_metrics(metric.results)


def split_size(model_config: Union[str, Config], split: str,
               data_root: Optional[str] = None) -> int:
    """Number of faces in a split."""
    return len(_dataset(load_cfg(model_config), split, data_root))


def as_list(crops: np.ndarray) -> List[np.ndarray]:
    """(N, 3, H, W) -> N arrays of (1, 3, H, W) (batch-1 calibration)."""
    return [c[None] for c in crops]
