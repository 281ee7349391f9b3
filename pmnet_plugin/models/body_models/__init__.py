from .smpl import SMPLBodyModel
from .smpl_io import load_h36m_regressor, load_mean_params, load_smpl_model_file

__all__ = [
    'SMPLBodyModel', 'load_smpl_model_file', 'load_mean_params', 'load_h36m_regressor'
]
