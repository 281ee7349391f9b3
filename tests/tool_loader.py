"""Import a script of ``tools/`` as a module, for tests of its functions."""
import importlib.util
import os.path as osp
from types import ModuleType

TOOLS = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'tools')


def load_tool(name: str) -> ModuleType:
    """The module ``tools/<name>.py``, executed once per call under the name ``pmnet_tool_<name>``."""
    spec = importlib.util.spec_from_file_location(f'pmnet_tool_{name}', osp.join(TOOLS, f'{name}.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
