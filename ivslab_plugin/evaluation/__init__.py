from .face_metric import (
                          NORMALISERS,
                          FaceLandmarkMetric,
                          auc,
                          failure_rate,
                          normalising_distance,
                          per_sample_nme,
)

__all__ = [
    'NORMALISERS', 'FaceLandmarkMetric', 'auc', 'failure_rate',
    'normalising_distance', 'per_sample_nme'
]
