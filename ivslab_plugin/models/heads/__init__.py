from .lite_heatmap_head import LiteHeatmapHead

__all__ = ['LiteHeatmapHead']
