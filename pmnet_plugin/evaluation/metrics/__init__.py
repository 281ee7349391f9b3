from .mesh_metric import MeshMetric
from .pose_rarity_metric import PoseRarityMetric
from .smpl_prediction_dump import SMPLPredictionDump

__all__ = ['MeshMetric', 'PoseRarityMetric', 'SMPLPredictionDump']
