"""The face boxes of a TSV for the submission writer
(:func:`ivslab_plugin.deploy.lite.submission.write_submission`, which
``tools/run_model.py`` and an exported bundle's ``run_model.py`` share):
reading the TSV needs the training stack's reader."""
from __future__ import annotations

from typing import Dict, Optional

import numpy as np

from ivslab_plugin.datasets.tsv import read_landmark_tsv

from ..lite.submission import FaceBoxes, image_id


def boxes_from_tsv(tsv: str, image_root: Optional[str] = None,
                   num_keypoints: int = 51,
                   multi_face: Optional[str] = None) -> FaceBoxes:
    """The face boxes of a TSV per image id (``test_q.tsv``: the boxes come
    from the dummy points by the training rule, see ``read_landmark_tsv``),
    and with ``multi_face`` (``test_q.txt``) the ids of images that hold
    more faces than their rows."""
    from ivslab_plugin.datasets.tsv import multi_face_images
    boxes: Dict[str, list] = {}
    records = read_landmark_tsv(tsv, num_keypoints, image_root, labelled=False,
                                check_images=False)
    for rec in records:
        boxes.setdefault(image_id(rec.image_path), []).append(rec.bbox)
    return FaceBoxes({k: np.stack(v) for k, v in boxes.items()},
                     set(multi_face_images(multi_face, records)) if multi_face else set())
