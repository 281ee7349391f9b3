"""Training-loop components registered into ``mmpose.registry`` (+ a registry fix for missing torchvision)."""
from .hooks import NaNGuardHook  # noqa: F401
from .registry_compat import skip_torchvision_only_registry_imports  # noqa: F401

__all__ = ['NaNGuardHook', 'skip_torchvision_only_registry_imports']
