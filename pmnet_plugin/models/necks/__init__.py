from .keypoint_heatmap_neck import KeypointHeatmapNeck

__all__ = ['KeypointHeatmapNeck']
