"""Accuracy of exported networks: NME of a raw-network runner on a split,
through the plugin's metric, and the INT8 gate built on it."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Union

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


#: Default INT8 limit: NME_pupil at most 5 % above the fp32 model's.
INT8_LIMIT = 0.05


def within_limit(fp32: float, int8: float, limit: float = INT8_LIMIT) -> bool:
    """Whether an INT8 NME is at most ``limit`` (a fraction) above fp32."""
    return bool(np.isfinite(int8)) and int8 <= fp32 * (1 + limit)


def cpu_flags() -> List[str]:
    """The CPU's integer dot-product flags (VNNI decides which ONNX Runtime
    INT8 kernels run on x86); empty when it has none or they cannot be
    read."""
    try:
        with open('/proc/cpuinfo') as f:
            flags = next((line.split(':', 1)[1].split() for line in f
                          if line.startswith('flags')), [])
    except OSError:
        return []
    return sorted({'avx512_vnni', 'avx_vnni'} & set(flags))


@dataclass
class Int8Check:
    """An INT8 model's NME against its fp32 model's on held-out faces."""

    fp32: float
    int8: float
    faces: int
    split: str
    limit: float = INT8_LIMIT
    metric: str = 'NME_pupil'

    @property
    def change(self) -> float:
        return self.int8 / self.fp32 - 1

    @property
    def passed(self) -> bool:
        return within_limit(self.fp32, self.int8, self.limit)

    def line(self) -> str:
        flags = ', '.join(cpu_flags()) or 'no VNNI'
        return (f'INT8 check on {self.faces} {self.split} faces: {self.metric} '
                f'fp32 {self.fp32:.4f}, int8 {self.int8:.4f} ({100 * self.change:+.1f} %, '
                f'limit +{100 * self.limit:.0f} %; CPU: {flags}): '
                + ('PASSED' if self.passed else 'FAILED'))


def check_int8(fp32_runner: Runner, int8_runner: Runner,
               model_config: Union[str, Config], data_root: Optional[str] = None,
               limit: float = INT8_LIMIT, split: str = 'test',
               max_faces: Optional[int] = None,
               metric: str = 'NME_pupil') -> Int8Check:
    """Measure an INT8 export against its fp32 export on ``split`` (never
    the training split, which calibrates)."""
    if split == 'train':
        raise ValueError('the INT8 check measures held-out faces; the '
                         'training split calibrates')
    fp32 = evaluate_runner(fp32_runner, model_config, data_root, split, max_faces)
    int8 = evaluate_runner(int8_runner, model_config, data_root, split, max_faces)
    faces = len(split_dataset(load_cfg(model_config), split, data_root))
    faces = faces if max_faces is None else min(faces, max_faces)
    return Int8Check(fp32[metric], int8[metric], faces, split, limit, metric)
