"""Training-loop components (hooks in ``mmpose.registry``) and Runner set-up fixes for this environment."""
from .cpu_distributed import close_distributed, setup_cpu_distributed  # noqa: F401
from .hooks import AtomicCheckpointHook, NaNGuardHook, PrototypeEMAHook  # noqa: F401
from .registry_compat import skip_torchvision_only_registry_imports  # noqa: F401

__all__ = [
    'AtomicCheckpointHook', 'NaNGuardHook', 'PrototypeEMAHook', 'setup_cpu_distributed', 'close_distributed',
    'skip_torchvision_only_registry_imports'
]
