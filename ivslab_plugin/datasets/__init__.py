from .ivslab_dataset import IvslabFaceDataset, resolve_metainfo_file
from .samplers import MultiSourceBatchSampler
from .tsv import (
                  AnnotationError,
                  LandmarkRecord,
                  box_from_landmarks,
                  convert_pts_folders,
                  follows_box_rule,
                  format_pts,
                  format_tsv_row,
                  image_id,
                  multi_face_images,
                  read_landmark_tsv,
                  read_multi_face_ids,
                  read_pts,
                  resolve_image_path,
                  to_51_points,
                  unlabelled_box,
                  write_tsv,
)

__all__ = [
    'IvslabFaceDataset', 'resolve_metainfo_file', 'MultiSourceBatchSampler', 'AnnotationError',
    'LandmarkRecord', 'box_from_landmarks', 'convert_pts_folders',
    'follows_box_rule', 'format_pts', 'format_tsv_row', 'image_id',
    'multi_face_images', 'read_landmark_tsv', 'read_multi_face_ids',
    'read_pts', 'resolve_image_path', 'to_51_points', 'unlabelled_box',
    'write_tsv'
]
