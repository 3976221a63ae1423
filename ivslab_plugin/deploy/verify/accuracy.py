"""NME of a raw-network runner on a split, through the plugin's metric."""
from __future__ import annotations

from typing import Dict, Optional, Union

import numpy as np
import torch
from mmengine.config import Config

from ..configs import load_cfg
from ..data import split_dataset
from ..infer.backends import decode_outputs
from ..lite.runtimes import Runner
from ..model import load_estimator


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
    dataset = split_dataset(cfg, split, data_root)
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
