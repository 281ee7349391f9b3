from .mesh_metric import MeshMetric
from .pose_rarity_metric import PoseRarityMetric

__all__ = ['MeshMetric', 'PoseRarityMetric']
