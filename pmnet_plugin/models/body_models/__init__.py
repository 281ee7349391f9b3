from .smpl import SMPLBodyModel
from .smpl_io import load_h36m_regressor, load_mean_params, load_smpl_model_file
from .synthetic import make_synthetic_smpl

__all__ = [
    'SMPLBodyModel', 'load_smpl_model_file', 'load_mean_params', 'load_h36m_regressor',
    'make_synthetic_smpl'
]
