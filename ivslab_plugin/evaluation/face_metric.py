"""Face-landmark metrics: NME (pupil / ocular), failure rate and AUC."""
from __future__ import annotations

import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import MMLogger
from mmpose.registry import METRICS

# (left group, right group) of landmark indices per markup; each group's
# centroid is one end of the normalising distance.
Indices = Tuple[Sequence[int], Sequence[int]]
NORMALISERS: Dict[str, Dict[str, Indices]] = {
    # 51 points: eyes are 19-24 (subject's right) and 25-30; outer corners
    # 19 and 28. (The seed used 36/45 here, the 68-point indices: lip points
    # in this markup.)
    'ivslab': dict(pupil=(range(19, 25), range(25, 31)), ocular=([19], [28])),
    '300w': dict(pupil=(range(36, 42), range(42, 48)), ocular=([36], [45])),
    'wflw': dict(pupil=([96], [97]), ocular=([60], [72])),
    'cofw': dict(pupil=([16], [17]), ocular=([8], [9])),
}


def normalising_distance(keypoints: np.ndarray, indices: Indices) -> np.ndarray:
    """Distance between the centroids of two landmark groups.

    Note:
        ``keypoints`` has shape (N, K, 2); returns shape (N,).
    """
    a = keypoints[:, list(indices[0])].mean(axis=1)
    b = keypoints[:, list(indices[1])].mean(axis=1)
    return np.linalg.norm(a - b, axis=-1)


def per_sample_nme(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray,
                   norm: np.ndarray) -> np.ndarray:
    """Mean point-to-point error of each face over its visible points.

    Note:
        ``pred`` and ``gt`` have shape (N, K, 2), ``mask`` (N, K) and
        ``norm`` (N,); returns shape (N,).
    """
    dist = np.linalg.norm(pred - gt, axis=-1)
    return (dist * mask).sum(axis=1) / mask.sum(axis=1) / norm


def failure_rate(nme: np.ndarray, threshold: float) -> float:
    """Fraction of faces whose NME exceeds ``threshold``."""
    return float((nme > threshold).mean())


def auc(nme: np.ndarray, threshold: float) -> float:
    """Area under the cumulative error curve on [0, threshold], in [0, 1].

    The curve is the fraction of faces with NME <= t. Its normalised
    integral has the closed form ``mean(max(0, 1 - nme / threshold))``,
    which avoids the sampling error of a trapezoid over a grid.
    """
    return float(np.clip(1.0 - nme / threshold, 0.0, None).mean())


@METRICS.register_module()
class FaceLandmarkMetric(BaseMetric):
    """NME with pupil and ocular normalisation, FR and AUC for faces.

    Reports ``NME_<mode>`` for every mode in ``norm_modes`` and
    ``FR@<thr>_<mode>`` / ``AUC@<thr>_<mode>`` for ``fr_auc_mode``, all as
    fractions (for example ``NME_pupil``, ``FR@0.10_pupil``).

    Args:
        norm_modes (sequence[str]): normalisers to report NME with.
        fr_auc_mode (str): the normaliser of the failure rate and AUC.
        threshold (float): failure threshold and AUC upper limit.
        normalisers (dict, optional): ``{mode: (indices_a, indices_b)}``;
            defaults to the table for the dataset's ``dataset_name``
            (ivslab, 300w, wflw, cofw).
        outfile (str, optional): also write every face's errors to this
            JSON file (``img_path`` and ``NME_<mode>`` per face), for
            cumulative error curves and failure analysis.
        collect_device (str): see :class:`BaseMetric`.
        prefix (str, optional): see :class:`BaseMetric`.
    """

    def __init__(self,
                 norm_modes: Sequence[str] = ('pupil', 'ocular'),
                 fr_auc_mode: str = 'pupil',
                 threshold: float = 0.1,
                 normalisers: Optional[Dict[str, Indices]] = None,
                 outfile: Optional[str] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if fr_auc_mode not in norm_modes:
            raise ValueError(f'fr_auc_mode {fr_auc_mode!r} must be one of '
                             f'norm_modes {tuple(norm_modes)}')
        self.norm_modes = tuple(norm_modes)
        self.fr_auc_mode = fr_auc_mode
        self.threshold = threshold
        self.normalisers = normalisers
        self.outfile = outfile

    def _get_normalisers(self) -> Dict[str, Indices]:
        if self.normalisers is not None:
            table = self.normalisers
        else:
            name = (self.dataset_meta or {}).get('dataset_name')
            if name not in NORMALISERS:
                raise KeyError(
                    f'no default normalisers for dataset {name!r}; pass '
                    f'`normalisers` (known: {sorted(NORMALISERS)})')
            table = NORMALISERS[name]
        missing = set(self.norm_modes) - set(table)
        if missing:
            raise KeyError(f'normalisers lack modes {sorted(missing)}')
        return table

    def process(self, data_batch: Sequence[dict],
                data_samples: Sequence[dict]) -> None:
        for sample in data_samples:
            gt = sample['gt_instances']
            mask = np.asarray(gt['keypoints_visible']).reshape(1, -1) > 0
            if not mask.any():
                raise ValueError(
                    f'{sample.get("img_path")}: a face without visible '
                    'landmarks cannot be evaluated (unlabelled data?)')
            self.results.append(
                dict(
                    pred=np.asarray(sample['pred_instances']['keypoints'])
                    [:1, :, :2],
                    gt=np.asarray(gt['keypoints'])[:1, :, :2],
                    mask=mask,
                    img_path=sample.get('img_path')))

    def per_sample_errors(self, results: List[dict]) -> Dict[str, np.ndarray]:
        """Per-face NME for every normaliser, shape (N,) each."""
        pred = np.concatenate([r['pred'] for r in results])
        gt = np.concatenate([r['gt'] for r in results])
        mask = np.concatenate([r['mask'] for r in results]).astype(float)
        table = self._get_normalisers()
        return {
            mode: per_sample_nme(pred, gt, mask,
                                 normalising_distance(gt, table[mode]))
            for mode in self.norm_modes
        }

    def compute_metrics(self, results: list) -> Dict[str, float]:
        errors = self.per_sample_errors(results)
        metrics = {f'NME_{m}': float(e.mean()) for m, e in errors.items()}
        main = errors[self.fr_auc_mode]
        thr = f'{self.threshold:.2f}'
        metrics[f'FR@{thr}_{self.fr_auc_mode}'] = failure_rate(
            main, self.threshold)
        metrics[f'AUC@{thr}_{self.fr_auc_mode}'] = auc(main, self.threshold)
        MMLogger.get_current_instance().info(
            f'{type(self).__name__} on {len(main)} faces')
        if self.outfile:
            faces = [
                dict(img_path=r['img_path'],
                     **{f'NME_{m}': float(e[i]) for m, e in errors.items()})
                for i, r in enumerate(results)
            ]
            os.makedirs(osp.dirname(osp.abspath(self.outfile)), exist_ok=True)
            with open(self.outfile, 'w') as f:
                json.dump(dict(metrics=metrics, faces=faces), f, indent=1)
        return metrics
