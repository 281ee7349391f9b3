from .mesh_losses import MeshLoss

__all__ = ['MeshLoss']
