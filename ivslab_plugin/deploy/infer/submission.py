"""The face boxes of a TSV for the submission writer
(:func:`ivslab_plugin.deploy.lite.submission.write_submission`, which
``tools/run_model.py`` and an exported bundle's ``run_model.py`` share):
reading the TSV needs the training stack's reader; and the challenge's
list of images with more faces than rows (``test_q.txt``)."""
from __future__ import annotations

import re
from typing import Dict, List, Optional, Sequence

import numpy as np

from ivslab_plugin.datasets.tsv import AnnotationError, LandmarkRecord, read_landmark_tsv

from ..lite.submission import FaceBoxes, image_id


def boxes_from_tsv(tsv: str, image_root: Optional[str] = None,
                   num_keypoints: int = 51,
                   multi_face: Optional[str] = None) -> FaceBoxes:
    """The face boxes of a TSV per image id (``test_q.tsv``: the boxes come
    from the dummy points by the training rule, see ``read_landmark_tsv``),
    and with ``multi_face`` (``test_q.txt``) the ids of images that hold
    more faces than their rows."""
    boxes: Dict[str, list] = {}
    records = read_landmark_tsv(tsv, num_keypoints, image_root, labelled=False,
                                check_images=False)
    for rec in records:
        boxes.setdefault(image_id(rec.image_path), []).append(rec.bbox)
    return FaceBoxes({k: np.stack(v) for k, v in boxes.items()},
                     set(multi_face_images(multi_face, records)) if multi_face else set())


def read_multi_face_ids(path: str) -> Dict[str, int]:
    """Read ``test_q.txt``: image ids that hold more than one face.

    Each non-empty line starts with an image id, optionally followed by the
    number of faces. The organisers' file lists bare numbers (``0016``);
    :func:`multi_face_images` matches them to an annotation file's images.

    Returns:
        dict: image id (file name without extension) -> face count, or 0
        where the file does not say.
    """
    ids = {}
    with open(path, encoding='utf-8') as f:
        for line_no, line in enumerate(f, start=1):
            tokens = line.split()
            if not tokens:
                continue
            count = 0
            if len(tokens) > 1:
                try:
                    count = int(tokens[1])
                except ValueError:
                    raise AnnotationError(
                        path, line_no,
                        f'face count {tokens[1]!r} is not an integer') from None
            ids[image_id(tokens[0])] = count
    return ids


def multi_face_images(path: str,
                      records: Sequence[LandmarkRecord]) -> Dict[str, int]:
    """``test_q.txt`` matched to the images of an annotation file.

    An id names an image exactly (``image_0016``) or by its number
    (``0016``, as the organisers' file does for ``image_0016.png``).

    Args:
        path (str): the id list (see :func:`read_multi_face_ids`).
        records (Sequence[LandmarkRecord]): the annotation file's rows.

    Returns:
        dict: image id (as :func:`image_id` gives it for the rows) -> face
        count from the list (0 where it does not say).

    Raises:
        AnnotationError: for an id that names no image, or several.
    """
    ids = read_multi_face_ids(path)
    known = {image_id(r.image_path) for r in records}
    by_number: Dict[int, List[str]] = {}
    for name in sorted(known):
        digits = re.search(r'(\d+)$', name)
        if digits:
            by_number.setdefault(int(digits.group(1)), []).append(name)
    matched = {}
    for key, count in ids.items():
        if key in known:
            names = [key]
        elif key.isdigit():
            names = by_number.get(int(key), [])
        else:
            names = []
        if len(names) != 1:
            raise AnnotationError(
                path, None, f'id {key!r} names {len(names)} images of the '
                f'annotation file ({names[:3]}); expected exactly one')
        matched[names[0]] = count
    return matched
