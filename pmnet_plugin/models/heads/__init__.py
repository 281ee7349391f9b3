from .hmr_head import HMRHead
from .ief_regressor import IEFRegressor
from .prototype_memory_head import PrototypeMemoryHead

__all__ = ['HMRHead', 'IEFRegressor', 'PrototypeMemoryHead']
