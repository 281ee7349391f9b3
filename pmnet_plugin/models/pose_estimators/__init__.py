from .frozen_backbone_mesh import FrozenBackboneMeshEstimator
from .topdown_mesh import TopdownMeshEstimator

__all__ = ['FrozenBackboneMeshEstimator', 'TopdownMeshEstimator']
