"""Training-loop components (hooks) registered into ``mmpose.registry``."""
from .hooks import NaNGuardHook  # noqa: F401

__all__ = ['NaNGuardHook']
