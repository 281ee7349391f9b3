"""Workarounds for the software this plugin runs beside, kept apart from the method.

Each module says what it works around; it can go when the condition in the last column no longer holds.

============================  ==============================================  ====================================
module                        works around                                    can go when
============================  ==============================================  ====================================
``checkpoint``                MMEngine 0.10 calls ``torch.load`` without      MMEngine passes ``weights_only`` or
                              ``weights_only``; torch >= 2.6 then refuses     allow-lists its own classes
                              Runner checkpoints (``HistoryBuffer``, numpy)
``registry``                  ``mmpose.visualization`` imports torchvision,   torchvision is installed beside
                              which every Runner reaches through MMPose's     torch (a no-op then)
                              visualizer registries
``pose_visualizer``           ``PoseLocalVisualizer`` cannot be imported      as ``registry``; ``MeshVisualizer``
                              without torchvision: a keypoint/box drawer      then subclasses MMPose's class
                              with its interface
``cpu_distributed``           MMEngine's ``init_dist`` and ``wrap_model``     MMEngine supports gloo without CUDA
                              assume CUDA; torchrun on a CPU-only machine
============================  ==============================================  ====================================

``checkpoint`` and ``registry`` act on import; ``pmnet_plugin`` imports this package first.
"""
from .checkpoint import allow_mmengine_checkpoints  # noqa: F401  (first: applies on import)
from .cpu_distributed import close_distributed, setup_cpu_distributed  # noqa: F401
from .pose_visualizer import PoseKeypointVisualizer  # noqa: F401
from .registry import skip_torchvision_only_registry_imports  # noqa: F401

__all__ = [
    'allow_mmengine_checkpoints', 'setup_cpu_distributed', 'close_distributed', 'PoseKeypointVisualizer',
    'skip_torchvision_only_registry_imports'
]
