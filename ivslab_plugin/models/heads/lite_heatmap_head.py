"""A deconvolution-free heatmap head for tiny students."""
from __future__ import annotations

from typing import Sequence, Tuple

from mmcv.cnn import DepthwiseSeparableConvModule
from mmpose.models.heads import HeatmapHead
from mmpose.models.heads.base_head import BaseHead
from mmpose.registry import KEYPOINT_CODECS, MODELS
from mmpose.utils.typing import ConfigType, OptConfigType
from torch import Tensor, nn


@MODELS.register_module()
class LiteHeatmapHead(HeatmapHead):
    """Heatmap head that upsamples with nearest-neighbour resize + depthwise
    separable convs instead of transposed convolutions.

    Each upsampling stage is ``Upsample(x2, nearest) -> DW 3x3 -> BN -> ReLU
    -> PW 1x1 -> BN -> ReLU``. Every BatchNorm follows an ordinary conv, so it
    folds at export, and there is no ConvTranspose (which LiteRT leaves off
    XNNPACK and int8 quantisers handle badly). Heatmaps quantise better than
    SimCC's final Linear layers. Only the layers differ from MMPose's
    :class:`HeatmapHead`: its ``predict`` (flip test, codec decoding), ``loss``
    (MSE with keypoint weights, PCK accuracy) and ``decode`` are inherited, so
    MMDeploy's heatmap post-processing applies.

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
        # HeatmapHead's own __init__ builds deconvolutions: skip to BaseHead's
        BaseHead.__init__(self, init_cfg)
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

    def init_weights(self) -> None:
        super().init_weights()
        # Zero bias: an untrained head predicts flat heatmaps, not noise.
        nn.init.zeros_(self.final_layer.bias)



