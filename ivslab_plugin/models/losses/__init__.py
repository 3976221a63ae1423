from .kd_losses import (
                        FeatureDistillLoss,
                        LogitDistillLoss,
                        gaussian_render,
                        heatmap_to_profiles,
                        resample_axis,
                        simcc_to_heatmap,
)

__all__ = ['FeatureDistillLoss', 'LogitDistillLoss', 'gaussian_render', 'heatmap_to_profiles',
           'resample_axis', 'simcc_to_heatmap']
