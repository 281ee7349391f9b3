from .hmr_head import HMRHead
from .ief_regressor import IEFRegressor
from .keypoint_heatmap_aux_head import KeypointHeatmapAuxHead
from .prototype_memory_head import PrototypeMemoryHead

__all__ = ['HMRHead', 'IEFRegressor', 'KeypointHeatmapAuxHead', 'PrototypeMemoryHead']
