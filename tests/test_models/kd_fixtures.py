"""Tiny teacher / student configs and packed samples for the model tests."""
from __future__ import annotations

import os.path as osp
from typing import Dict, List

import numpy as np
import torch
from mmpose.datasets.transforms import GenerateTarget, PackPoseInputs

K = 51
TEACHER_SIZE = (64, 64)
STUDENT_SIZE = (32, 32)

PREPROCESSOR = dict(type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53],
                    std=[58.395, 57.12, 57.375], bgr_to_rgb=True)


def backbone(out_index: int) -> Dict:
    return dict(_scope_='mmdet', type='CSPNeXt', arch='P5', expand_ratio=0.5,
                deepen_factor=0.167, widen_factor=0.125, out_indices=(out_index, ))


def heatmap_codec(size, heatmap_size, sigma) -> Dict:
    return dict(type='MSRAHeatmap', input_size=size, heatmap_size=heatmap_size, sigma=sigma)


def simcc_codec(size) -> Dict:
    return dict(type='SimCCLabel', input_size=size, sigma=(2.0, 2.0), simcc_split_ratio=2.0,
                normalize=False, use_dark=False)


def model_cfg(kind: str, role: str) -> Dict:
    """A tiny TopdownPoseEstimator: ``kind`` 'heatmap' or 'simcc', ``role``
    'teacher' (64 px) or 'student' (32 px)."""
    size = TEACHER_SIZE if role == 'teacher' else STUDENT_SIZE
    if kind == 'heatmap':
        codec = heatmap_codec(size, tuple(s // 4 for s in size), 2.0 if role == 'teacher' else 1.0)
        if role == 'teacher':
            head = dict(type='HeatmapHead', in_channels=64, out_channels=K,
                        deconv_out_channels=(16, 16), deconv_kernel_sizes=(4, 4),
                        loss=dict(type='KeypointMSELoss', use_target_weight=True),
                        decoder=codec)
        else:
            head = dict(type='LiteHeatmapHead', in_channels=64, out_channels=K,
                        mid_channels=(16, 16), decoder=codec)
        out_index = 3  # stride 16
    else:
        codec = simcc_codec(size)
        head = dict(type='RTMCCHead', in_channels=128, out_channels=K, input_size=size,
                    in_featuremap_size=tuple(s // 32 for s in size), simcc_split_ratio=2.0,
                    final_layer_kernel_size=1,
                    gau_cfg=dict(hidden_dims=32, s=16, expansion_factor=2, dropout_rate=0.,
                                 drop_path=0., act_fn='SiLU', use_rel_bias=False,
                                 pos_enc=False),
                    loss=dict(type='KLDiscretLoss', use_target_weight=True, beta=10.,
                              label_softmax=True),
                    decoder=codec)
        out_index = 4  # stride 32
    return dict(type='TopdownPoseEstimator', data_preprocessor=PREPROCESSOR,
                backbone=backbone(out_index), head=head, test_cfg=dict(flip_test=False)), codec


def write_teacher_config(tmp_dir: str, kind: str) -> str:
    """Write a teacher config file (the distiller takes a path)."""
    model, _ = model_cfg(kind, 'teacher')
    path = osp.join(tmp_dir, f'tiny_{kind}_teacher.py')
    with open(path, 'w') as f:
        f.write(f'input_size = {TEACHER_SIZE!r}\nmodel = {model!r}\n')
    return path


def distiller_cfg(tmp_dir: str, teacher: str, student: str, feature: bool = True,
                  **kwargs) -> Dict:
    s_model, _ = model_cfg(student, 'student')
    feat_channels = dict(heatmap=64, simcc=128)
    cfg = dict(type='SingleTeacherPoseDistiller', student=s_model,
               teacher_cfg=write_teacher_config(tmp_dir, teacher),
               logit_loss=dict(type='LogitDistillLoss', heatmap_sigma=1.0))
    if feature:
        cfg['feature_loss'] = dict(type='FeatureDistillLoss',
                                   student_channels=feat_channels[student],
                                   teacher_channels=feat_channels[teacher])
    cfg.update(kwargs)
    return cfg


def make_samples(codec: Dict, labelled: List[bool], seed: int = 0) -> List:
    """Packed samples with targets from ``codec``; unlabelled ones have zero
    keypoints and visibility, as ``IvslabFaceDataset(labelled=False)``."""
    rng = np.random.default_rng(seed)
    w, h = codec['input_size']
    gen, pack = GenerateTarget(encoder=codec), PackPoseInputs()
    samples = []
    for is_labelled in labelled:
        kpts = rng.uniform(0.2, 0.8, size=(1, K, 2)) * [w, h]
        if not is_labelled:
            kpts = np.zeros((1, K, 2))
        results = dict(img=np.zeros((h, w, 3), np.uint8),
                       keypoints=kpts.astype(np.float32),
                       keypoints_visible=np.full((1, K), float(is_labelled), np.float32),
                       bbox=np.array([[0, 0, w, h]], np.float32),
                       bbox_score=np.ones(1, np.float32),
                       bbox_center=np.array([[w / 2, h / 2]], np.float32),
                       bbox_scale=np.array([[w, h]], np.float32),
                       input_center=np.array([w / 2, h / 2], np.float32),
                       input_scale=np.array([w, h], np.float32),
                       input_size=(w, h), flip_indices=list(range(K)))
        samples.append(pack(gen(results))['data_samples'])
    return samples


def inputs(n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, 3, STUDENT_SIZE[1], STUDENT_SIZE[0], generator=g)
