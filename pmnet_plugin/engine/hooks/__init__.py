from .atomic_checkpoint_hook import AtomicCheckpointHook  # noqa: F401
from .head_curve_hook import HeadCurveHook  # noqa: F401
from .nan_guard_hook import NaNGuardHook  # noqa: F401
from .prototype_ema_hook import PrototypeEMAHook  # noqa: F401

__all__ = ['AtomicCheckpointHook', 'HeadCurveHook', 'NaNGuardHook', 'PrototypeEMAHook']
