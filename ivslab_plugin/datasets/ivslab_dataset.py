"""The ivslab face-landmark dataset for MMPose (TSV annotations)."""
from __future__ import annotations

import os.path as osp
from typing import Dict, List, Optional, Tuple

import numpy as np
from mmpose.datasets.datasets.base import BaseCocoStyleDataset
from mmpose.registry import DATASETS

from .tsv import read_landmark_tsv

METAINFO_DIR = osp.join(osp.dirname(__file__), 'metainfo')


def resolve_metainfo_file(name: str) -> str:
    """Find a metainfo file: as given, in this package, or in MMPose's.

    ``'ivslab51.py'`` is shipped here; ``'300w.py'``, ``'wflw.py'`` and
    ``'cofw.py'`` are MMPose's own (68, 98 and 29 points).
    """
    if osp.isfile(name):
        return name
    import mmpose
    candidates = [
        osp.join(METAINFO_DIR, osp.basename(name)),
        osp.join(
            osp.dirname(mmpose.__file__), '.mim', 'configs', '_base_',
            'datasets', osp.basename(name)),
    ]
    for candidate in candidates:
        if osp.isfile(candidate):
            return candidate
    raise FileNotFoundError(f'metainfo file {name!r} not found as given nor '
                            f'in {candidates}')


@DATASETS.register_module()
class IvslabFaceDataset(BaseCocoStyleDataset):
    """Faces from an ivslab / STAR-style TSV file (no header row).

    One sample per TSV row, in file order: the face box is the square of
    side ``scale * 200`` around ``(center_w, center_h)``, all landmarks are
    visible. The number of landmarks comes from the metainfo, so the same
    class reads 300W (``metainfo=dict(from_file='300w.py')``), WFLW
    (``'wflw.py'``, with ``allow_extra_columns=True`` for its attribute
    columns) and COFW (``'cofw.py'``).

    Args:
        labelled (bool): ``False`` for files whose landmark columns are
            dummies (``test_q.tsv``): samples carry the face box, and their
            keypoints are zeros with ``keypoints_visible`` 0, so no landmark
            loss or error is computed from them.
        allow_extra_columns (bool): accept trailing attribute columns.
        check_images (bool): check at start-up that every image exists and
            is readable, so a bad row is reported with its line number.
        **kwargs: see :class:`BaseCocoStyleDataset`; ``data_prefix['img']``
            is the root that image paths are resolved against.
    """

    METAINFO: dict = dict(from_file=osp.join(METAINFO_DIR, 'ivslab51.py'))

    def __init__(self,
                 *args,
                 labelled: bool = True,
                 allow_extra_columns: bool = False,
                 check_images: bool = True,
                 **kwargs):
        self.labelled = labelled
        self.allow_extra_columns = allow_extra_columns
        self.check_images = check_images
        super().__init__(*args, **kwargs)

    @classmethod
    def _load_metainfo(cls, metainfo: Optional[dict] = None) -> dict:
        if metainfo and 'from_file' in metainfo:
            metainfo = dict(
                metainfo,
                from_file=resolve_metainfo_file(metainfo['from_file']))
        return super()._load_metainfo(metainfo)

    def _load_annotations(self) -> Tuple[List[dict], List[dict]]:
        records = read_landmark_tsv(
            self.ann_file,
            num_keypoints=self.metainfo['num_keypoints'],
            image_root=self.data_prefix.get('img') or None,
            allow_extra_columns=self.allow_extra_columns,
            labelled=self.labelled,
            check_images=self.check_images)
        visible = 1.0 if self.labelled else 0.0
        instance_list, image_list, image_ids = [], [], {}
        for idx, rec in enumerate(records):
            if rec.image_path not in image_ids:
                image_ids[rec.image_path] = len(image_ids)
                image_list.append(
                    dict(img_id=image_ids[rec.image_path],
                         img_path=rec.image_path))
            num_kpts = len(rec.keypoints)
            instance_list.append({
                'img_id': image_ids[rec.image_path],
                'img_path': rec.image_path,
                'bbox': rec.bbox.reshape(1, 4),
                'bbox_score': np.ones(1, dtype=np.float32),
                'num_keypoints': num_kpts if self.labelled else 0,
                'keypoints': rec.keypoints.reshape(1, num_kpts, 2),
                'keypoints_visible': np.full((1, num_kpts), visible,
                                             dtype=np.float32),
                'iscrowd': 0,
                'segmentation': None,
                'id': idx,
                'category_id': np.array(1),
                # Where the sample came from, for error messages and reports.
                'ann_line': rec.line_no,
            })
        return instance_list, image_list

    def _get_topdown_data_infos(self, instance_list: List[Dict]) -> List[Dict]:
        # The reader has already validated every row; MMPose's filter would
        # silently drop unlabelled rows (all-zero keypoints).
        return instance_list
