"""Where the configs are, relative data paths, and the directory a tool is run from.

The configs ship inside an installed wheel as ``pmnet_plugin/.mim/configs`` (as MMPose ships its own in
``mmpose/.mim/configs``); in a checkout they are ``<repo>/configs``. :func:`config_path` finds a config in
either. The configs name their data files relative to the repository root; :func:`relative_path_hint` tells
a tool started elsewhere apart from a missing file, so that the error says where to run from.
"""
import os
import os.path as osp

__all__ = ['REPO_ROOT', 'PACKAGE_CONFIG_DIR', 'config_dir', 'config_path', 'relative_path_hint']

# the checkout that holds this package (for an installed copy: site-packages, where data/ does not exist)
REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# the configs a built wheel carries (setup.py copies configs/ there)
PACKAGE_CONFIG_DIR = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), '.mim', 'configs')


def config_dir() -> str:
    """The folder of the shipped configs: the installed package's ``.mim/configs``, else the checkout's.

    Returns:
        str: An absolute folder path (it exists unless the package was installed without its configs).
    """
    return PACKAGE_CONFIG_DIR if osp.isdir(PACKAGE_CONFIG_DIR) else osp.join(REPO_ROOT, 'configs')


def config_path(name: str) -> str:
    """The absolute path of a shipped config, e.g. ``config_path('_base_/datasets/smpl24.py')``.

    Args:
        name (str): A path relative to the ``configs`` folder.

    Returns:
        str: ``<config_dir()>/<name>``.

    Raises:
        FileNotFoundError: When neither the package nor a checkout holds it (naming both places).
    """
    path = osp.join(config_dir(), name)
    if not osp.isfile(path):
        raise FileNotFoundError(
            f'config {name!r} not found in {PACKAGE_CONFIG_DIR} (an installed wheel) nor in '
            f'{osp.join(REPO_ROOT, "configs")} (a checkout): reinstall pmnet_plugin from a wheel built by '
            '`pip wheel .`, or install the checkout with `pip install -e .`')
    return path


def relative_path_hint(path: str) -> str:
    """A sentence for a missing ``path`` that is relative and exists under :data:`REPO_ROOT`, else ``''``.

    Args:
        path (str): A file that was not found from the current directory.

    Returns:
        str: ``'<path> is relative to the current directory <cwd>, but exists under the repository root
        <root>: run the tool from <root> (or give an absolute path). '`` or ``''``.
    """
    if not path or osp.isabs(path) or osp.exists(path):
        return ''
    if not osp.exists(osp.join(REPO_ROOT, path)) or osp.samefile(os.getcwd(), REPO_ROOT):
        return ''
    return (f'{path} is relative to the current directory {os.getcwd()}, but exists under the repository '
            f'root {REPO_ROOT}: run the tool from {REPO_ROOT} (or give an absolute path). ')
