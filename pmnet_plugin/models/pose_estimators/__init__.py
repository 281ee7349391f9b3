from .topdown_mesh import TopdownMeshEstimator

__all__ = ['TopdownMeshEstimator']
