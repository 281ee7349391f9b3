"""Lets an MMEngine Runner with ``default_scope='mmpose'`` start when torchvision is missing.

Every Runner builds a visualizer (and its backends, and a log processor) from MMPose's ``VISUALIZERS``,
``VISBACKENDS`` and ``LOG_PROCESSORS`` registries. On first use MMEngine imports each registry's
``locations``, here ``mmpose.visualization``, which imports torchvision (``simcc_vis.py``) and fails beside
the CPU torch build used by this project. The classes that package provides (``PoseLocalVisualizer``, ...)
are unusable without torchvision anyway; ours (``MeshVisualizer``) registers itself into
``mmpose.registry.VISUALIZERS`` on import, and MMEngine's own ``Visualizer``, ``LocalVisBackend`` and
``LogProcessor`` are found through the registries' parents.

So, only when importing ``mmpose.visualization`` fails for lack of torchvision, these three registries are
marked as already imported. With torchvision installed this is a no-op.
"""
from typing import List


def skip_torchvision_only_registry_imports() -> List[str]:
    """Marks MMPose's visualization registries as imported if ``mmpose.visualization`` needs torchvision.

    Returns:
        list[str]: Names of the registries that were marked (empty when nothing was needed).
    """
    try:
        import mmpose.visualization  # noqa: F401
        return []
    except ModuleNotFoundError as err:
        if err.name is None or not err.name.startswith('torchvision'):
            raise
    from mmpose.registry import LOG_PROCESSORS, VISBACKENDS, VISUALIZERS
    marked = []
    for registry in (VISUALIZERS, VISBACKENDS, LOG_PROCESSORS):
        if 'mmpose.visualization' in registry._locations and not registry._imported:
            registry._imported = True
            marked.append(registry.name)
    return marked


skip_torchvision_only_registry_imports()
