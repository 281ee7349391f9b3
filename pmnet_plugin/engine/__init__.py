"""Training-loop components: hooks registered in ``mmpose.registry.HOOKS``."""
from .hooks import AtomicCheckpointHook, NaNGuardHook, PrototypeEMAHook  # noqa: F401

__all__ = ['AtomicCheckpointHook', 'NaNGuardHook', 'PrototypeEMAHook']
