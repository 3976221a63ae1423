"""Real face crops as the deployed network sees them: the model config's
own dataset with its **test** pipeline (``GetBBoxCenterScale`` +
``TopdownAffine``, no augmentation) and its data pre-processor. Used to
calibrate INT8 (training faces) and to measure exports (test faces).
"""
from __future__ import annotations

import os.path as osp
from typing import Optional, Union

import numpy as np
import torch
from mmengine.config import Config

from .configs import load_cfg
from .model import load_estimator


def split_dataset(model_cfg: Config, split: str, data_root: Optional[str]):
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
    dataset = split_dataset(cfg, 'train', data_root)
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
