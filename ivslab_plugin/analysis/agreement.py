"""How closely models' landmarks follow a reference model and the labels.

Distillation asks a student to copy its teacher; the NME of the student's
points against the teacher's, on the faces it distilled from and on unseen
ones, tells whether it is short of data (close on its own pool, far on new
faces) or short of fitting (far even on its own pool).
"""
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from ivslab_plugin.datasets.tsv import LandmarkRecord
from ivslab_plugin.deploy.infer.backends import build_backend
from ivslab_plugin.deploy.lite.face import read_image
from ivslab_plugin.evaluation.face_metric import Indices, normalising_distance, per_sample_nme


def select_records(records: Sequence[LandmarkRecord], path: str,
                   contains: Optional[str] = None,
                   every: int = 1) -> List[LandmarkRecord]:
    """Rows whose image path contains ``contains``, then every ``every``-th."""
    if every < 1:
        raise ValueError(f'every must be >= 1, got {every}')
    picked = [r for r in records if contains is None or contains in r.image_path]
    picked = picked[::every]
    if not picked:
        raise ValueError(f'{path}: no rows left after selecting image paths '
                         f'containing {contains!r} (of {len(records)} rows)')
    return picked


def predict_landmarks(config: str, model: str,
                      records: Sequence[LandmarkRecord],
                      device: str = 'cpu') -> np.ndarray:
    """A model's landmarks for each record's face box, shape (N, K, 2).

    ``model`` is anything ``build_backend`` takes: a ``.pth`` checkpoint of
    ``config`` or an exported model, so exports can be compared too.
    """
    backend = build_backend(model, config, device=device)
    return np.concatenate([backend.predict(read_image(rec.image_path), rec.bbox[None])[0]
                           for rec in records])


def nme_against(pred: np.ndarray, ref: np.ndarray, norm: Indices) -> float:
    """Mean NME of ``pred`` against ``ref``, normalised on ``ref``'s points."""
    mask = np.ones(ref.shape[:2])
    return float(per_sample_nme(pred, ref, mask, normalising_distance(ref, norm)).mean())


def agreement(preds: Dict[str, np.ndarray], norm: Indices,
              labels: Optional[np.ndarray] = None) -> Dict[str, Dict[str, float]]:
    """Each model's NME against the labels (if given) and the first model.

    Returns:
        ``{model: {'GT': nme, '<first model>': nme}}`` in ``preds`` order.
    """
    ref_name, ref = next(iter(preds.items()))
    rows = {}
    for name, pred in preds.items():
        row = {}
        if labels is not None:
            row['GT'] = nme_against(pred, labels, norm)
        row[ref_name] = nme_against(pred, ref, norm)
        rows[name] = row
    return rows


def format_agreement(rows: Dict[str, Dict[str, float]], faces: int) -> str:
    """A markdown table of ``agreement``'s result."""
    cols = list(next(iter(rows.values())))
    lines = [f'| model ({faces} faces) | ' + ' | '.join(f'NME vs {c}' for c in cols) + ' |',
             '|---' * (len(cols) + 1) + '|']
    for name, row in rows.items():
        lines.append(f'| {name} | ' + ' | '.join(f'{row[c]:.4f}' for c in cols) + ' |')
    return '\n'.join(lines)


def parse_models(specs: Sequence[Sequence[str]]) -> List[Tuple[str, str, str]]:
    """``--model NAME CONFIG CHECKPOINT`` triples, names unique."""
    names = [s[0] for s in specs]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ValueError(f'model names must be unique, repeated: {sorted(dup)}')
    return [tuple(s) for s in specs]
