from .ivslab_dataset import IvslabFaceDataset, resolve_metainfo_file
from .samplers import MultiSourceBatchSampler
from .tsv import (
                  AnnotationError,
                  LandmarkRecord,
                  box_from_landmarks,
                  convert_pts_folders,
                  follows_box_rule,
                  format_tsv_row,
                  read_landmark_tsv,
                  read_pts,
                  resolve_image_path,
                  to_51_points,
                  unlabelled_box,
                  write_tsv,
)

__all__ = [
    'IvslabFaceDataset', 'resolve_metainfo_file', 'MultiSourceBatchSampler', 'AnnotationError',
    'LandmarkRecord', 'box_from_landmarks', 'convert_pts_folders',
    'follows_box_rule', 'format_tsv_row',
    'read_landmark_tsv',
    'read_pts', 'resolve_image_path', 'to_51_points', 'unlabelled_box',
    'write_tsv'
]
