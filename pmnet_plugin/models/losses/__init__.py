from .balanced_mse_loss import BalancedMSELoss
from .mesh_losses import MeshLoss

__all__ = ['BalancedMSELoss', 'MeshLoss']
