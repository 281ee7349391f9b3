"""Fixes for the software this plugin runs beside, kept apart from the method.

``checkpoint`` (torch >= 2.6 and MMEngine checkpoints) and ``registry`` (MMPose's visualizer registries
without torchvision) act on import, and ``pmnet_plugin`` imports this package first;
``pose_visualizer`` and ``cpu_distributed`` are called. What each fixes and when it can go:
``docs/configs.md``.
"""
from .checkpoint import allow_mmengine_checkpoints  # noqa: F401  (first: applies on import)
from .cpu_distributed import close_distributed, setup_cpu_distributed  # noqa: F401
from .pose_visualizer import PoseKeypointVisualizer  # noqa: F401
from .registry import skip_torchvision_only_registry_imports  # noqa: F401

__all__ = [
    'allow_mmengine_checkpoints', 'setup_cpu_distributed', 'close_distributed', 'PoseKeypointVisualizer',
    'skip_torchvision_only_registry_imports'
]
