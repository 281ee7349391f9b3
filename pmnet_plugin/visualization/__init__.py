from .mesh_visualizer import MeshVisualizer  # noqa: F401
from .renderer import MeshRenderer  # noqa: F401
