from .nan_guard_hook import NaNGuardHook  # noqa: F401
from .prototype_ema_hook import PrototypeEMAHook  # noqa: F401

__all__ = ['NaNGuardHook', 'PrototypeEMAHook']
