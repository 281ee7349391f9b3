from .balanced_mse_gai_loss import BalancedMSEGAILoss
from .balanced_mse_loss import BalancedMSELoss
from .mesh_losses import MeshLoss

__all__ = ['BalancedMSEGAILoss', 'BalancedMSELoss', 'MeshLoss']
