"""A deconvolution-free heatmap head for tiny students."""
from __future__ import annotations

from typing import Sequence, Tuple

import torch
from mmcv.cnn import DepthwiseSeparableConvModule
from mmengine.structures import PixelData
from mmpose.evaluation.functional import pose_pck_accuracy
from mmpose.models.heads.base_head import BaseHead
from mmpose.models.utils.tta import flip_heatmaps
from mmpose.registry import KEYPOINT_CODECS, MODELS
from mmpose.utils.tensor_utils import to_numpy
from mmpose.utils.typing import ConfigType, OptConfigType, OptSampleList, Predictions
from torch import Tensor, nn


@MODELS.register_module()
class LiteHeatmapHead(BaseHead):
    """Heatmap head that upsamples with nearest-neighbour resize + depthwise
    separable convs instead of transposed convolutions.

    Each upsampling stage is ``Upsample(x2, nearest) -> DW 3x3 -> BN -> ReLU
    -> PW 1x1 -> BN -> ReLU``. Every BatchNorm follows an ordinary conv, so it
    folds at export, and there is no ConvTranspose (which LiteRT leaves off
    XNNPACK and int8 quantisers handle badly). Heatmaps quantise better than
    SimCC's final Linear layers. Decoding goes through the configured codec
    (``MSRAHeatmap``), exactly as :class:`HeatmapHead` does, so MMDeploy's
    heatmap post-processing applies.

    Args:
        in_channels (int): Channels of the last backbone feature.
        out_channels (int): Number of keypoints K.
        mid_channels (Sequence[int]): Output channels of each upsampling
            stage; its length is the number of x2 upsamplings.
        in_index (int): Which backbone feature to use. Defaults to -1.
        loss (dict): Heatmap loss config.
        decoder (dict, optional): Codec config used by :meth:`predict`.
        init_cfg (dict, optional): Initialisation config.

    Note:
        ``forward`` maps features (B, C, h, w) to heatmaps
        (B, K, h * 2**n, w * 2**n) with n = ``len(mid_channels)``.
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int,
                 mid_channels: Sequence[int] = (64, 32),
                 in_index: int = -1,
                 loss: ConfigType = dict(type='KeypointMSELoss', use_target_weight=True),
                 decoder: OptConfigType = None,
                 init_cfg: OptConfigType = None) -> None:
        if init_cfg is None:
            init_cfg = [
                dict(type='Normal', layer=['Conv2d'], std=0.001),
                dict(type='Constant', layer='BatchNorm2d', val=1),
            ]
        super().__init__(init_cfg)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.in_index = in_index
        self.loss_module = MODELS.build(loss)
        self.decoder = KEYPOINT_CODECS.build(decoder) if decoder is not None else None

        stages = []
        channels = in_channels
        for mid in mid_channels:
            stages.append(
                nn.Sequential(
                    nn.Upsample(scale_factor=2, mode='nearest'),
                    DepthwiseSeparableConvModule(
                        channels, mid, 3, padding=1, norm_cfg=dict(type='BN'),
                        act_cfg=dict(type='ReLU'))))
            channels = mid
        self.upsample = nn.Sequential(*stages)
        self.final_layer = nn.Conv2d(channels, out_channels, 1)

    def forward(self, feats: Tuple[Tensor]) -> Tensor:
        """Features (B, C, h, w) -> heatmaps (B, K, H, W)."""
        return self.final_layer(self.upsample(feats[self.in_index]))

    def predict(self,
                feats: Tuple[Tensor],
                batch_data_samples: OptSampleList,
                test_cfg: ConfigType = {}) -> Predictions:
        """Decode keypoints (and optionally heatmaps), with flip test.

        Returns:
            A list of ``InstanceData`` with ``keypoints`` (1, K, 2) and
            ``keypoint_scores`` (1, K), plus heatmap ``PixelData`` when
            ``test_cfg['output_heatmaps']`` is set.
        """
        if test_cfg.get('flip_test', False):
            assert isinstance(feats, list) and len(feats) == 2
            flip_indices = batch_data_samples[0].metainfo['flip_indices']
            _feats, _feats_flip = feats
            heatmaps = self.forward(_feats)
            heatmaps_flip = flip_heatmaps(
                self.forward(_feats_flip),
                flip_mode=test_cfg.get('flip_mode', 'heatmap'),
                flip_indices=flip_indices,
                shift_heatmap=test_cfg.get('shift_heatmap', False))
            heatmaps = (heatmaps + heatmaps_flip) * 0.5
        else:
            heatmaps = self.forward(feats)

        preds = self.decode(heatmaps)
        if test_cfg.get('output_heatmaps', False):
            return preds, [PixelData(heatmaps=hm) for hm in heatmaps.detach()]
        return preds

    def loss(self,
             feats: Tuple[Tensor],
             batch_data_samples: OptSampleList,
             train_cfg: ConfigType = {}) -> dict:
        """Heatmap loss against the codec's targets.

        Returns:
            dict: ``loss_kpt`` and, unless ``train_cfg['compute_acc']`` is
            False, ``acc_pose`` (PCK on the heatmaps).
        """
        pred = self.forward(feats)
        gt = torch.stack([d.gt_fields.heatmaps for d in batch_data_samples])
        weights = torch.cat(
            [d.gt_instance_labels.keypoint_weights for d in batch_data_samples])
        losses = dict(loss_kpt=self.loss_module(pred, gt, weights))
        if train_cfg.get('compute_acc', True):
            _, avg_acc, _ = pose_pck_accuracy(
                output=to_numpy(pred), target=to_numpy(gt), mask=to_numpy(weights) > 0)
            losses['acc_pose'] = torch.tensor(avg_acc, device=gt.device)
        return losses

    def init_weights(self) -> None:
        super().init_weights()
        # Zero bias: an untrained head predicts flat heatmaps, not noise.
        nn.init.zeros_(self.final_layer.bias)



