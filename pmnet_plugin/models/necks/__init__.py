from .keypoint_heatmap_neck import KeypointHeatmapNeck
from .spatial_pooling_neck import SpatialPoolingNeck

__all__ = ['KeypointHeatmapNeck', 'SpatialPoolingNeck']
