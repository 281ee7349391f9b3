"""What ``tools/quickstart.py`` may delete and reuse: marked folders and checked caches.

A folder the quickstart creates gets a marker file; it removes or regenerates only the entries it makes
(:data:`DATA_OWN`, :data:`OUT_OWN`) in marked folders, and refuses a non-empty folder it did not make
(:func:`claim_folder`). A folder from before the marker existed is adopted when it holds only such entries
and its record: ``quickstart_args.json`` for data, ``report.md`` or ``logs`` for a report folder. Cached
artefacts are reused only when they load and their key matches (:func:`renders_problem`,
:func:`pose_library_problem`, :func:`stage_problem`); each problem is one line saying why.
"""
import fnmatch
import hashlib
import json
import os
import os.path as osp
import shutil
import zipfile
from typing import List, Optional, Sequence

import numpy as np

from .atomic_io import atomic_write
from .workdir_lock import LOCK_NAME

__all__ = ['MARKER', 'DATA_OWN', 'OUT_OWN', 'FolderClaimError', 'claim_folder', 'remove_own', 'file_digest',
           'read_json', 'write_json', 'npz_problem', 'renders_problem', 'pose_library_problem', 'stage_problem']

MARKER = '.made_by_quickstart'
STAMP = 'quickstart_args.json'
# entries the quickstart writes (fnmatch patterns)
DATA_OWN = ('train', 'test', 'train.npz', 'test.npz', 'body_model.npz', STAMP, 'prototypes_k*.npz',
            'smpl_mean_params.npz', 'pose2d_*')
OUT_OWN = ('logs', 'work_dirs', 'pose2d', 'report.md', 'test_renders.png', 'starting_points.md', 'overlays.png',
           'error_vs_rarity.png', 'training_curves_seed*.png', 'diagnostics_seed*.json', 'diagnostics_seed*.md')


class FolderClaimError(ValueError):
    """A non-empty folder the quickstart did not make; nothing in it was touched."""


def _matches(name: str, patterns: Sequence[str]) -> bool:
    return name in (MARKER, LOCK_NAME) or any(fnmatch.fnmatch(name, p) for p in patterns)


def claim_folder(folder: str, option: str, own: Sequence[str], record: Sequence[str], create: bool = True) -> str:
    """Makes ``folder`` the quickstart's, or raises :class:`FolderClaimError` when it holds others' files.

    Args:
        folder (str): The folder (created and marked when missing or empty).
        option (str): The option that names it, for the message (``'--data'``).
        own (Sequence[str]): Patterns of the entries the quickstart writes there.
        record (Sequence[str]): Entries of which one marks a folder the quickstart made before markers.
        create (bool): Create and mark it; False: only check.

    Returns:
        str: ``'new'``, ``'marked'`` or ``'adopted'``.
    """
    names = sorted(os.listdir(folder)) if osp.isdir(folder) else []
    if osp.exists(folder) and not osp.isdir(folder):
        raise FolderClaimError(f'{option} {folder} is a file, not a folder. Choose another {option}.')
    if MARKER in names:
        return 'marked'
    foreign = [n for n in names if not _matches(n, own)]
    if names and (foreign or not any(n in names for n in record)
                  or (STAMP in record and read_json(osp.join(folder, STAMP))[0] is None)):
        listed = ', '.join(foreign[:5]) + (' ...' if len(foreign) > 5 else '') if foreign else (
            f'no valid {" or ".join(record)}')
        raise FolderClaimError(
            f'{option} {folder} is not empty and was not made by the quickstart ({listed}); it writes and '
            f'deletes only in folders it made, so nothing there was touched. Choose another {option} (a new or '
            'empty folder), or move those files.')
    if not create:
        return 'adopted' if names else 'new'
    os.makedirs(folder, exist_ok=True)
    with open(osp.join(folder, MARKER), 'w') as f:
        f.write('made by tools/quickstart.py: it may remove and regenerate its own entries here\n')
    return 'adopted' if names else 'new'


def remove_own(folder: str, own: Sequence[str]) -> List[str]:
    """Removes the quickstart's entries of a marked ``folder`` (others stay); returns their names."""
    if not osp.isfile(osp.join(folder, MARKER)):
        return []
    removed = []
    for name in sorted(os.listdir(folder)):
        if name in (MARKER, LOCK_NAME) or not _matches(name, own):
            continue
        path = osp.join(folder, name)
        shutil.rmtree(path) if osp.isdir(path) and not osp.islink(path) else os.remove(path)
        removed.append(name)
    return removed


def file_digest(*paths: str) -> str:
    """SHA-1 (16 hex digits) of the files' bytes, ``'missing'`` for one that does not exist."""
    h = hashlib.sha1()
    for path in paths:
        if not osp.isfile(path):
            h.update(b'missing')
            continue
        with open(path, 'rb') as f:
            for block in iter(lambda: f.read(1 << 20), b''):
                h.update(block)
    return h.hexdigest()[:16]


def read_json(path: str):
    """``(value, None)``, or ``(None, reason)`` when ``path`` is missing, empty or not JSON."""
    if not osp.isfile(path):
        return None, f'{path} is missing'
    try:
        with open(path) as f:
            return json.load(f), None
    except (ValueError, OSError) as err:
        return None, f'{path} is empty or not valid JSON ({err})'


def write_json(path: str, value) -> None:
    """Writes ``value`` as JSON, whole or not at all."""
    def write(tmp: str) -> None:
        with open(tmp, 'w') as f:
            json.dump(value, f, indent=1, sort_keys=True)
    atomic_write(path, write)


def npz_problem(path: str, keys: Sequence[str] = ()) -> Optional[str]:
    """Why ``path`` is not a whole ``.npz`` with ``keys`` (every member's checksum is read), or None."""
    if not osp.isfile(path):
        return f'{path} is missing'
    try:
        with zipfile.ZipFile(path) as z:
            bad = z.testzip()
            names = {osp.splitext(n)[0] for n in z.namelist()}
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        return f'{path} is damaged or truncated ({err})'
    if bad is not None:
        return f'{path} is damaged (member {bad} fails its checksum)'
    missing = [k for k in keys if k not in names]
    return f'{path} lacks {", ".join(missing)}' if missing else None


def renders_problem(data: str, key: dict) -> Optional[str]:
    """Why the renders in ``data`` cannot be reused for ``key`` (the stamp's expected content), or None."""
    stamp, why = read_json(osp.join(data, STAMP))
    if stamp is None:
        return why
    if stamp != key:
        changed = sorted(k for k in set(stamp) | set(key) if stamp.get(k) != key.get(k))
        return f'{data} was made with other inputs ({", ".join(changed)} differ)'
    for split, count in (('train', key['num']), ('test', key['num_test'])):
        path = osp.join(data, f'{split}.npz')
        problem = npz_problem(path, ('image_path', 'bbox_xywh'))
        if problem:
            return problem
        with np.load(path, allow_pickle=False) as z:
            n = len(z['image_path'])
        images = osp.join(data, split, 'images')
        found = len(os.listdir(images)) if osp.isdir(images) else 0
        if n != count or found < count:
            return f'{path} holds {n} samples and {images} {found} images, expected {count}'
    return None


def pose_library_problem(path: str) -> Optional[str]:
    """Why ``path`` is not a usable pose library (whole, ``poses`` (N, 72), N > 0, finite), or None."""
    problem = npz_problem(path, ('poses', 'clip', 'frame', 'is_rare'))
    if problem:
        return problem
    with np.load(path, allow_pickle=False) as z:
        poses = z['poses']
    if poses.ndim != 2 or poses.shape[1] != 72 or not len(poses) or not np.isfinite(poses).all():
        return f'{path}: poses of shape {poses.shape} are not N x 72 finite values'
    return None


def stage_problem(work_dir: str, key: dict, root: str = '') -> Optional[str]:
    """Why the trained stage in ``work_dir`` cannot be reused for ``key``, or None (its checkpoint loads).

    ``root``: the folder the checkpoint path in ``last_checkpoint`` is relative to.
    """
    from pmnet_plugin.apis.checkpoint import read_checkpoint
    from pmnet_plugin.utils.safe_pickle import DataFileError
    recorded, why = read_json(osp.join(work_dir, 'quickstart_key.json'))
    if recorded is None:
        return why
    if recorded != key:
        changed = sorted(k for k in set(recorded) | set(key) if recorded.get(k) != key.get(k))
        return f'{work_dir} was trained with other inputs ({", ".join(changed)} differ)'
    try:
        with open(osp.join(work_dir, 'last_checkpoint')) as f:
            ckpt = osp.join(root, f.read().strip())
        if osp.dirname(osp.realpath(ckpt)) != osp.realpath(work_dir):  # a copied or moved folder
            return f'its last_checkpoint names {ckpt}, outside {work_dir}'
        read_checkpoint(ckpt)
    except (OSError, DataFileError) as err:
        return f'its checkpoint does not load ({err})'
    return None
