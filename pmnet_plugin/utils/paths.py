"""Relative data paths and the directory a tool is run from.

The configs name their files relative to the repository root; :func:`relative_path_hint` tells a tool
started elsewhere apart from a missing file, so that the error says where to run from.
"""
import os
import os.path as osp

__all__ = ['REPO_ROOT', 'relative_path_hint']

# the checkout that holds this package (for an installed copy: site-packages, where data/ does not exist)
REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


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
