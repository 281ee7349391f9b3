"""Reading SMPL model files (official chumpy ``.pkl`` or ``.npz``) and SPIN's mean parameters.

Official SMPL ``.pkl`` files are Python-2 pickles whose arrays may be ``chumpy.Ch`` objects and whose
``J_regressor`` is a ``scipy.sparse`` matrix. :func:`load_smpl_model_file` reads them WITHOUT chumpy and
without running code from the file: :class:`pmnet_plugin.utils.safe_pickle.RestrictedUnpickler` resolves only
numpy, builtin-container and ``scipy.sparse`` globals and maps every ``chumpy.*`` class to
:class:`_ChumpyStandIn`, which keeps the pickled state and is converted to a numpy array afterwards (a ``Ch``
keeps its value in ``state["x"]``). ``.npz`` files are read with
:func:`~pmnet_plugin.utils.safe_pickle.load_npz`.
"""
import os.path as osp
from typing import Any, Dict, Optional

import numpy as np

from pmnet_plugin.utils.paths import relative_path_hint
from pmnet_plugin.utils.safe_pickle import (READ_ERRORS, DataFileError, UnsafePickleError, load_npz,
                                            restricted_load, unreadable_file_message)
from .constants import NUM_SMPL_JOINTS, OBTAIN_HINTS

__all__ = [
    'load_smpl_model_file', 'load_mean_params', 'load_h36m_regressor', 'load_joint_regressor',
    'missing_file_message', 'REQUIRED_SMPL_KEYS'
]

REQUIRED_SMPL_KEYS = ('v_template', 'shapedirs', 'posedirs', 'J_regressor', 'weights', 'kintree_table', 'f')


def missing_file_message(path: str, kind: str) -> str:
    """Error text for a missing body-model asset: the file, the folder looked in, where to get it.

    Args:
        path (str): The path that does not exist.
        kind (str): A key of ``constants.OBTAIN_HINTS`` (``'smpl'``, ``'h36m_regressor'``,
            ``'extra_regressor'``, ``'mean_params'``, ``'gendered_smpl'``).

    Returns:
        str: A message naming the file, its folder and how to obtain it.
    """
    folder = osp.abspath(osp.dirname(path) or '.')
    return (f'{kind} file not found: {path!r} (looked in {folder}). {relative_path_hint(path)}'
            f'To obtain it: {OBTAIN_HINTS[kind]}; {OBTAIN_HINTS["offline"]}.')


class _ChumpyStandIn:
    """Receives the state of a pickled ``chumpy`` object; :func:`_to_numpy` turns it into an array."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._args = args
        self._state: Any = None

    def __setstate__(self, state: Any) -> None:
        self._state = state


# classes of these module trees are read as _ChumpyStandIn (see the module docstring)
CHUMPY_SUBSTITUTES = {'chumpy': _ChumpyStandIn}


def _fix(kind: str) -> str:
    """Where to get a good copy of a body-model asset (``kind`` as in :func:`missing_file_message`)."""
    return f'To obtain a good copy: {OBTAIN_HINTS[kind]}; {OBTAIN_HINTS["offline"]}.'


def _to_numpy(value: Any, where: str) -> Any:
    """Converts chumpy stand-ins and scipy sparse matrices to dense numpy arrays."""
    if isinstance(value, _ChumpyStandIn):
        state = value._state
        if isinstance(state, dict) and 'x' in state:
            return np.asarray(_to_numpy(state['x'], where))
        raise ValueError(f'{where}: a chumpy object without a value (state keys: '
                         f'{sorted(state) if isinstance(state, dict) else type(state).__name__}); '
                         'only chumpy Ch arrays are supported')
    if hasattr(value, 'toarray') and type(value).__module__.startswith('scipy.sparse'):
        return np.asarray(value.toarray())
    return value


def _read_raw(path: str) -> Dict[str, Any]:
    ext = osp.splitext(path)[1].lower()
    if ext not in ('.npz', '.pkl', '.pickle'):
        raise ValueError(f'{path}: unsupported SMPL model file extension {ext!r} (use .pkl or .npz)')
    if ext == '.npz':
        return load_npz(path, 'an SMPL model .npz', _fix('smpl'))
    try:
        with open(path, 'rb') as f:
            raw = restricted_load(f, path, CHUMPY_SUBSTITUTES)
    except (UnsafePickleError, PermissionError):
        raise
    except READ_ERRORS as err:
        raise DataFileError(unreadable_file_message(path, err, 'an SMPL model pickle', _fix('smpl'))) from err
    if not isinstance(raw, dict):
        raise ValueError(f'{path}: expected a pickled dict, got {type(raw).__name__}')
    return raw


def _validate(arrays: Dict[str, np.ndarray], path: str) -> None:
    missing = [k for k in REQUIRED_SMPL_KEYS if k not in arrays]
    if missing:
        raise KeyError(f'{path}: missing SMPL key(s) {missing}; found {sorted(arrays)}')
    num_v = arrays['v_template'].shape[0]
    expect = {
        'v_template': (num_v, 3),
        'posedirs': (num_v, 3, 207),
        'J_regressor': (NUM_SMPL_JOINTS, num_v),
        'weights': (num_v, NUM_SMPL_JOINTS),
        'kintree_table': (2, NUM_SMPL_JOINTS),
    }
    for key, shape in expect.items():
        if arrays[key].shape != shape:
            raise ValueError(f'{path}: key {key!r} has shape {arrays[key].shape}, expected {shape}')
    sd = arrays['shapedirs']
    if sd.ndim != 3 or sd.shape[:2] != (num_v, 3) or sd.shape[2] < 10:
        raise ValueError(f'{path}: key \'shapedirs\' has shape {sd.shape}, expected ({num_v}, 3, >=10)')
    f = arrays['f']
    if f.ndim != 2 or f.shape[1] != 3:
        raise ValueError(f'{path}: key \'f\' has shape {f.shape}, expected (F, 3)')
    if f.size and (f.min() < 0 or f.max() >= num_v):
        raise ValueError(f'{path}: key \'f\' indexes vertices outside [0, {num_v})')
    for key in REQUIRED_SMPL_KEYS:
        arr = arrays[key]
        if np.issubdtype(arr.dtype, np.floating) and not np.isfinite(arr).all():
            raise ValueError(f'{path}: key {key!r} contains NaN or Inf values')


def load_smpl_model_file(path: str) -> Dict[str, np.ndarray]:
    """Loads an SMPL model (official chumpy ``.pkl`` without chumpy, or ``.npz``) as plain arrays.

    Args:
        path (str): Path to ``SMPL_*.pkl`` or ``SMPL_*.npz``.

    Returns:
        dict: Every array-like key of the file as a dense numpy array, including at least ``v_template``
        (V, 3), ``shapedirs`` (V, 3, >=10), ``posedirs`` (V, 3, 207), ``J_regressor`` (24, V), ``weights``
        (V, 24), ``kintree_table`` (2, 24) int64 and ``f`` (F, 3) int64. Float arrays are float64 as stored.
        Non-array entries (strings, ...) are kept as they are.

    Raises:
        FileNotFoundError: The file does not exist (the message says where to obtain it).
        KeyError / ValueError: Missing keys, wrong shapes or NaN values (the message names file and key).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(missing_file_message(path, 'smpl'))
    raw = _read_raw(path)
    arrays: Dict[str, Any] = {}
    for key, value in raw.items():
        value = _to_numpy(value, f'{path}: key {key!r}')
        if isinstance(value, np.ndarray) and value.dtype == object:
            raise ValueError(f'{path}: key {key!r} holds Python objects, not numbers')
        arrays[key] = value
    for key in REQUIRED_SMPL_KEYS:
        if key in arrays:
            arrays[key] = np.asarray(arrays[key])
    if 'kintree_table' in arrays:
        arrays['kintree_table'] = arrays['kintree_table'].astype(np.int64)
    if 'f' in arrays:
        arrays['f'] = arrays['f'].astype(np.int64)
    _validate(arrays, path)
    return arrays


def load_mean_params(path: str) -> Dict[str, np.ndarray]:
    """Loads SPIN's ``smpl_mean_params.npz``.

    Args:
        path (str): Path to the npz with keys ``pose`` (144,) = 24 x 6D (SPIN layout), ``shape`` (10,),
            ``cam`` (3,).

    Returns:
        dict: ``pose_rot6d`` (24, 6) float32, ``betas`` (10,) float32, ``cam`` (3,) float32.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(missing_file_message(path, 'mean_params'))
    data = load_npz(path, "SPIN's smpl_mean_params.npz", _fix('mean_params'))
    missing = [k for k in ('pose', 'shape', 'cam') if k not in data]
    if missing:
        raise KeyError(f'{path}: missing key(s) {missing}; found {sorted(data)}')
    try:
        pose = np.asarray(data['pose'], dtype=np.float32)
        shape = np.asarray(data['shape'], dtype=np.float32)
        cam = np.asarray(data['cam'], dtype=np.float32)
    except (TypeError, ValueError) as err:
        raise ValueError(f'{path}: keys pose/shape/cam must be numeric arrays ({err})') from err
    if pose.size != NUM_SMPL_JOINTS * 6:
        raise ValueError(f'{path}: key \'pose\' has shape {pose.shape}, expected (144,)')
    if shape.reshape(-1).shape != (10, ):
        raise ValueError(f'{path}: key \'shape\' has shape {shape.shape}, expected (10,)')
    if cam.reshape(-1).shape != (3, ):
        raise ValueError(f'{path}: key \'cam\' has shape {cam.shape}, expected (3,)')
    out = dict(pose_rot6d=pose.reshape(NUM_SMPL_JOINTS, 6), betas=shape.reshape(10), cam=cam.reshape(3))
    for key, value in out.items():
        if not np.isfinite(value).all():
            raise ValueError(f'{path}: key {key!r} contains NaN or Inf values')
    return out


def load_joint_regressor(path: str, kind: str, num_rows: int,
                         num_vertices: Optional[int] = None) -> np.ndarray:
    """Loads a joint regressor ``.npy`` (``num_rows``, V) as float32.

    Args:
        path (str): Path to the ``.npy`` file.
        kind (str): ``'h36m'`` (``J_regressor_h36m.npy``, 17 rows) or ``'extra'``
            (``J_regressor_extra.npy``, 9 rows); names the file in errors.
        num_rows (int): Expected number of joints.
        num_vertices (int, optional): Expected V (checked when given).

    Returns:
        np.ndarray: Regressor of shape (num_rows, V).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(missing_file_message(path, f'{kind}_regressor'))
    try:
        reg = np.load(path, allow_pickle=False)
        if not isinstance(reg, np.ndarray):
            raise ValueError(f'expected one .npy array, found {type(reg).__name__}')
        reg = reg.astype(np.float32)
    except PermissionError:
        raise
    except READ_ERRORS as err:
        raise DataFileError(unreadable_file_message(path, err, f'a {kind} joint regressor .npy',
                                                    _fix(f'{kind}_regressor'))) from err
    if reg.ndim != 2 or reg.shape[0] != num_rows or (num_vertices is not None and reg.shape[1] != num_vertices):
        raise ValueError(f'{path}: {kind} joint regressor has shape {reg.shape}, expected ({num_rows}, '
                         f'{num_vertices if num_vertices is not None else "V"})')
    if not np.isfinite(reg).all():
        raise ValueError(f'{path}: {kind} joint regressor contains NaN or Inf values')
    return reg


def load_h36m_regressor(path: str, num_vertices: Optional[int] = None) -> np.ndarray:
    """Loads ``J_regressor_h36m.npy`` (17, V) as float32 (see :func:`load_joint_regressor`)."""
    return load_joint_regressor(path, 'h36m', 17, num_vertices)
