"""Tiny top-down configs (a heatmap and a SimCC model) for fast deploy tests.

Each inherits ``configs/ivslab/_base_/ivslab_face.py`` by absolute path, so
the data pipeline (box padding, crop) is the real one; only the network is
small (64x64 input).
"""
import os.path as osp

import torch
from mmengine.config import Config

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BASE = osp.join(REPO_ROOT, 'configs', 'ivslab', '_base_', 'ivslab_face.py')

_BACKBONE = """
backbone=dict(_scope_='mmdet', type='CSPNeXt', arch='P5', expand_ratio=0.5,
              deepen_factor=0.167, widen_factor=0.125, out_indices=(4, ),
              channel_attention=True, norm_cfg=dict(type='BN'),
              act_cfg=dict(type='SiLU')),
"""
_PREPROCESSOR = """
data_preprocessor=dict(type='PoseDataPreprocessor',
                       mean=[123.675, 116.28, 103.53],
                       std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
"""

SIMCC = f"""
_base_ = [{BASE!r}]
input_size = (64, 64)
codec = dict(type='SimCCLabel', input_size=input_size, sigma=(2., 2.),
             simcc_split_ratio=2.0, normalize=False, use_dark=False)
model = dict(
    type='TopdownPoseEstimator',{_PREPROCESSOR}{_BACKBONE}
    head=dict(type='RTMCCHead', in_channels=128, out_channels=51,
              input_size=input_size, in_featuremap_size=(2, 2),
              simcc_split_ratio=2.0, final_layer_kernel_size=1,
              gau_cfg=dict(hidden_dims=32, s=16, expansion_factor=2,
                           dropout_rate=0., drop_path=0., act_fn='SiLU',
                           use_rel_bias=False, pos_enc=False),
              loss=dict(type='KLDiscretLoss', use_target_weight=True,
                        beta=10., label_softmax=True),
              decoder=codec),
    test_cfg=dict(flip_test=True))
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale', padding={{padding}}),
    dict(type='TopdownAffine', input_size=input_size),
    dict(type='PackPoseInputs'),
]
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale', padding={{padding}}),
    dict(type='TopdownAffine', input_size=input_size),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs'),
]
train_dataloader = dict(batch_size=8, num_workers=0, persistent_workers=False,
                        dataset=dict(pipeline=train_pipeline))
train_cfg = dict(max_epochs=1, val_interval=1)
optim_wrapper = dict(optimizer=dict(type='AdamW', lr=3e-3))
val_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False,
                      dataset=dict(pipeline=val_pipeline))
test_dataloader = val_dataloader
"""

HEATMAP = f"""
_base_ = [{BASE!r}]
input_size = (64, 64)
heatmap_codec = dict(type='MSRAHeatmap', input_size=input_size,
                     heatmap_size=(16, 16), sigma=1.5)
codec = heatmap_codec
model = dict(
    type='TopdownPoseEstimator',{_PREPROCESSOR}{_BACKBONE}
    neck=None,
    head=dict(type='HeatmapHead', in_channels=128, out_channels=51,
              deconv_out_channels=(32, 32, 32),
              deconv_kernel_sizes=(4, 4, 4),
              loss=dict(type='KeypointMSELoss', use_target_weight=True),
              decoder=heatmap_codec),
    test_cfg=dict(flip_test=True, flip_mode='heatmap', shift_heatmap=True))
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale', padding={{padding}}),
    dict(type='TopdownAffine', input_size=input_size),
    dict(type='PackPoseInputs'),
]
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale', padding={{padding}}),
    dict(type='TopdownAffine', input_size=input_size),
    dict(type='GenerateTarget', encoder=heatmap_codec),
    dict(type='PackPoseInputs'),
]
train_dataloader = dict(batch_size=8, num_workers=0, persistent_workers=False,
                        dataset=dict(pipeline=train_pipeline))
train_cfg = dict(max_epochs=1, val_interval=1)
optim_wrapper = dict(optimizer=dict(type='AdamW', lr=3e-3))
val_dataloader = dict(batch_size=4, num_workers=0, persistent_workers=False,
                      dataset=dict(pipeline=val_pipeline))
test_dataloader = val_dataloader
"""


def write_tiny_model(tmp_dir: str, kind: str, padding: float = 1.25,
                     seed: int = 0) -> tuple:
    """Write ``<kind>.py`` and a randomly initialised ``<kind>.pth``.

    Returns:
        tuple: (config path, checkpoint path).
    """
    from mmpose.registry import MODELS
    text = {'simcc': SIMCC, 'heatmap': HEATMAP}[kind].replace(
        '{padding}', repr(padding))
    cfg_path = osp.join(tmp_dir, f'{kind}.py')
    with open(cfg_path, 'w') as f:
        f.write(text)
    cfg = Config.fromfile(cfg_path)
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    # PyTorch's default init, not MMPose's (std 0.01): outputs far from
    # constant, so argmax ties cannot hide a difference between backends.
    # Non-trivial BatchNorm statistics, so a wrong eval/train mode shows.
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    ckpt = osp.join(tmp_dir, f'{kind}.pth')
    torch.save({'state_dict': model.state_dict(),
                'meta': {'dataset_meta': None}}, ckpt)
    return cfg_path, ckpt


def train_briefly(cfg_path: str, ckpt: str, data_root: str, iters: int = 60,
                  seed: int = 0) -> str:
    """Fit the tiny model to synthetic faces for a few iterations, in place.

    A random network's outputs are multi-modal, so two backends that differ
    by rounding can pick different peaks; a briefly trained one has single
    peaks near the faces, like a real model.
    """
    from mmengine.dataset import pseudo_collate
    from mmengine.optim import OptimWrapper
    from mmpose.registry import DATASETS, MODELS

    cfg = Config.fromfile(cfg_path)
    ds_cfg = cfg.train_dataloader.dataset.copy()
    ds_cfg.data_root = data_root
    dataset = DATASETS.build(ds_cfg)
    model = MODELS.build(cfg.model)
    model.load_state_dict(torch.load(ckpt)['state_dict'])
    model.train()
    # the training pipelines' random augmentations draw from these
    import random

    import numpy as np
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    # (the Albumentation transform draws its seed from numpy: compat.py)
    optim = OptimWrapper(torch.optim.AdamW(model.parameters(), lr=3e-3))
    rng = torch.Generator().manual_seed(seed)
    # One thread: on a busy 2-core box, OpenMP threads spin-waiting on each
    # other made this 20x slower (measured: 4 s vs 90 s).
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for _ in range(iters):
            idx = torch.randint(len(dataset), (8, ), generator=rng).tolist()
            model.train_step(pseudo_collate([dataset[i] for i in idx]), optim)
    finally:
        torch.set_num_threads(threads)
    model.eval()
    torch.save({'state_dict': model.state_dict(),
                'meta': {'dataset_meta': None}}, ckpt)
    return ckpt


def write_config_model(cfg_path: str, tmp_dir: str, name: str,
                       seed: int = 0) -> tuple:
    """A randomly initialised checkpoint of a repository config (e.g. the
    shipped student), with a copy of the config beside it.

    Returns:
        tuple: (config path, checkpoint path).
    """
    from mmpose.registry import MODELS
    cfg = Config.fromfile(cfg_path)
    out_cfg = osp.join(tmp_dir, f'{name}.py')
    cfg.dump(out_cfg)
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    ckpt = osp.join(tmp_dir, f'{name}.pth')
    torch.save({'state_dict': model.state_dict(),
                'meta': {'dataset_meta': None}}, ckpt)
    return out_cfg, ckpt


def plant_outlier_channel(cfg_path: str, ckpt: str, out_ckpt: str,
                          channel: int = 0, factor: float = 100.) -> str:
    """The tiny heatmap model's first deconvolution block with one output
    channel ``factor`` times larger, and the next deconvolution's weights
    for that channel divided by ``factor``: the same function in float
    (ReLU is positively homogeneous), but one activation whose range one
    channel sets, as training can leave it. Returns ``out_ckpt``."""
    state = torch.load(ckpt)
    sd = state['state_dict']
    # head.deconv_layers: 0 ConvTranspose, 1 BN, 2 ReLU, 3 ConvTranspose, ...
    sd['head.deconv_layers.1.weight'][channel] *= factor
    sd['head.deconv_layers.1.bias'][channel] *= factor
    # ConvTranspose weights are (in, out, kh, kw)
    sd['head.deconv_layers.3.weight'][channel] /= factor
    torch.save(state, out_ckpt)
    return out_ckpt
