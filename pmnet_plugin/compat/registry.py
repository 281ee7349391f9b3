"""Lets an MMEngine Runner with ``default_scope='mmpose'`` start when torchvision is missing.

A Runner builds its visualizer, vis backends and log processor from MMPose's registries, whose import
location ``mmpose.visualization`` imports torchvision. Only when that import fails for lack of torchvision
are the three registries marked as imported; MMEngine's own classes are found through the parents and
``MeshVisualizer`` registers itself (``docs/configs.md``).
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
