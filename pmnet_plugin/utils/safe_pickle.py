"""Reading pickled data files (SMPL ``.pkl``, object entries of ``.npz``) without running code from them.

:class:`RestrictedUnpickler` resolves only the globals that plain data needs (numpy arrays and dtypes,
builtin containers, ``scipy.sparse`` matrices, caller-given stand-ins such as ``chumpy.*``; the list is in
``docs/reliability.md``). Any other global raises :class:`UnsafePickleError` before anything is called;
a file that cannot be parsed raises :class:`DataFileError` naming it and what to do.
"""
import _compat_pickle
import builtins
import codecs
import collections
import copyreg
import importlib
import io
import json
import os
import os.path as osp
import pickle
import zipfile
import zlib
from typing import IO, Any, Callable, Dict, Mapping, Optional

import numpy as np
import yaml

__all__ = [
    'UnsafePickleError', 'DataFileError', 'RestrictedUnpickler', 'restricted_load', 'load_npz',
    'unreadable_file_message', 'READ_ERRORS', 'load_data_file'
]

# What a damaged pickle / zip raises while being parsed (UnsafePickleError is re-raised unchanged).
READ_ERRORS = (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError,
               KeyError, OverflowError, MemoryError, UnicodeDecodeError,
               zipfile.BadZipFile, zlib.error, OSError)


class UnsafePickleError(pickle.UnpicklingError):
    """A pickle names a global outside the allow-list; nothing it names was called."""


class DataFileError(ValueError):
    """A data file that cannot be parsed (empty, truncated, not the expected format)."""


def _numpy_module(name: str) -> Any:
    """``numpy._core.<name>`` (numpy 2) or ``numpy.core.<name>`` (numpy 1)."""
    try:
        return importlib.import_module(f'numpy._core.{name}')
    except ImportError:  # pragma: no cover - numpy 1
        return importlib.import_module(f'numpy.core.{name}')


def _sparse_classes() -> Dict[str, type]:
    try:
        from scipy import sparse
    except ImportError:  # pragma: no cover - scipy is a dependency of the stack
        return {}
    names = [f'{fmt}_{kind}' for fmt in ('csc', 'csr', 'coo', 'bsr', 'dia', 'dok', 'lil')
             for kind in ('matrix', 'array')]
    return {n: getattr(sparse, n) for n in names if hasattr(sparse, n)}


def _allowed_globals() -> Dict[str, Dict[str, Any]]:
    """``{module: {name: object}}`` of every global a data pickle may name (module spellings of
    numpy 1 and 2 and of Python 2 included)."""
    multiarray, numeric = _numpy_module('multiarray'), _numpy_module('numeric')
    np_core = {'_reconstruct': multiarray._reconstruct, 'scalar': multiarray.scalar}
    np_numeric = {'_frombuffer': numeric._frombuffer}
    containers = {n: getattr(builtins, n) for n in (
        'dict', 'list', 'tuple', 'set', 'frozenset', 'bytearray', 'bytes', 'str', 'int', 'float',
        'bool', 'complex', 'slice', 'range', 'object')}
    allowed = {
        'numpy': {'ndarray': np.ndarray, 'dtype': np.dtype},
        'numpy.core.multiarray': np_core, 'numpy._core.multiarray': np_core,
        'numpy.core.numeric': np_numeric, 'numpy._core.numeric': np_numeric,
        'builtins': containers,
        'copyreg': {'_reconstructor': copyreg._reconstructor},
        'collections': {'OrderedDict': collections.OrderedDict},
        '_codecs': {'encode': codecs.encode},  # bytes in protocols 0-2: encode(str, 'latin1')
    }
    sparse = _sparse_classes()
    for module in {cls.__module__ for cls in sparse.values()} | {'scipy.sparse'} | {
            f'scipy.sparse.{fmt}' for fmt in ('csc', 'csr', 'coo', 'bsr', 'dia', 'dok', 'lil')} | {
            f'scipy.sparse._{fmt}' for fmt in ('csc', 'csr', 'coo', 'bsr', 'dia', 'dok', 'lil')}:
        allowed[module] = sparse
    return allowed


class RestrictedUnpickler(pickle.Unpickler):
    """A ``pickle.Unpickler`` that resolves only the globals of plain data (``docs/reliability.md``).

    Args:
        file (IO[bytes]): The pickle stream.
        source (str): The file name used in error messages.
        substitutes (Mapping[str, type], optional): Module (tree) name -> class that stands in for
            every class of that module and its submodules (e.g. ``{'chumpy': _ChumpyStandIn}``).
        encoding (str): Decoding of Python-2 ``str`` objects. Defaults to ``'latin1'`` (numpy arrays
            pickled by Python 2).
    """

    _ALLOWED: Optional[Dict[str, Dict[str, Any]]] = None

    def __init__(self, file: IO[bytes], source: str,
                 substitutes: Optional[Mapping[str, type]] = None,
                 encoding: str = 'latin1') -> None:
        super().__init__(file, encoding=encoding)
        self.source = source
        self.substitutes = dict(substitutes or {})
        if RestrictedUnpickler._ALLOWED is None:
            RestrictedUnpickler._ALLOWED = _allowed_globals()

    def find_class(self, module: str, name: str) -> Any:
        """Returns the allowed object for ``module.name`` or raises :class:`UnsafePickleError`."""
        # Python-2 names (``__builtin__``, ``copy_reg``) as pickle's own ``fix_imports`` maps them
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
        for prefix, stand_in in self.substitutes.items():
            if module == prefix or module.startswith(prefix + '.'):
                return stand_in
        obj = self._ALLOWED.get(module, {}).get(name)
        if obj is not None:
            return obj
        allowed = 'numpy arrays/dtypes, builtin containers, scipy.sparse matrices'
        if self.substitutes:
            allowed += ' and ' + ', '.join(f'{p}.* objects' for p in self.substitutes)
        raise UnsafePickleError(
            f'{self.source}: refused to load "{module}.{name}": this file names a Python global that '
            f'plain data does not need (only {allowed} are allowed), so it could run code when loaded '
            '(nothing was run). Use the file from its official source, or re-save your own data with '
            'numpy arrays and dicts only.')


def unreadable_file_message(path: str, err: BaseException, expected: str, fix: str) -> str:
    """Error text for a file that exists but cannot be parsed.

    Args:
        path (str): The file.
        err (BaseException): What the parser raised.
        expected (str): What the file should be, e.g. ``'an SMPL model pickle'``.
        fix (str): How to get a good copy.

    Returns:
        str: ``"<path>: cannot read <expected> (<size>; <ErrType>: <msg>): the file is empty, truncated or
        not <expected>. <fix>"``.
    """
    try:
        size = os.path.getsize(path)
        size_txt = 'empty file' if size == 0 else f'{size} bytes'
    except OSError:
        size_txt = 'size unknown'
    detail = (str(err).strip() or repr(err)).split('. ')[0].splitlines()[0]  # its first sentence
    return (f'{path}: cannot read {expected} ({size_txt}; {type(err).__name__}: {detail}): the file is '
            f'empty, truncated or not {expected}. {fix}')


def restricted_load(file: IO[bytes], source: str,
                    substitutes: Optional[Mapping[str, type]] = None,
                    encoding: str = 'latin1') -> Any:
    """Unpickles one object from ``file`` with :class:`RestrictedUnpickler`.

    Args:
        file (IO[bytes]): Binary stream positioned at a pickle.
        source (str): File name for error messages.
        substitutes (Mapping[str, type], optional): See :class:`RestrictedUnpickler`.
        encoding (str): See :class:`RestrictedUnpickler`.

    Returns:
        The unpickled object.

    Raises:
        UnsafePickleError: The pickle names a global outside the allow-list.
    """
    return RestrictedUnpickler(file, source, substitutes, encoding).load()


def _read_object_member(npz: 'np.lib.npyio.NpzFile', key: str, source: str) -> np.ndarray:
    """Reads the object array ``key`` of an open ``.npz`` through :class:`RestrictedUnpickler`.

    An object ``.npy`` is the npy header followed by a pickle of the whole array
    (``numpy.lib.format.write_array``).
    """
    fmt = np.lib.format
    with npz.zip.open(key + '.npy') as member:
        stream = io.BytesIO(member.read())
    version = fmt.read_magic(stream)
    read_header: Callable = {(1, 0): fmt.read_array_header_1_0,
                             (2, 0): fmt.read_array_header_2_0}.get(version)
    if read_header is None:  # pragma: no cover - version 3.0 (utf8 field names) has no public reader
        shape, _, dtype = fmt._read_array_header(stream, version)
    else:
        shape, _, dtype = read_header(stream)
    if not dtype.hasobject:  # pragma: no cover - np.load read those without pickle
        raise DataFileError(f'{source}: entry {key!r} has dtype {dtype} but could not be read')
    array = restricted_load(stream, f'{source} (entry {key!r})')
    if not isinstance(array, np.ndarray) or array.shape != tuple(shape):
        raise DataFileError(f'{source}: entry {key!r} should hold an array of shape {tuple(shape)}, '
                            f'its pickle holds {type(array).__name__}')
    return array


def load_npz(path: str, expected: str = 'a numpy .npz archive',
             fix: str = 'Write the file again (or get a fresh copy from its source).') -> Dict[str, Any]:
    """Reads every entry of an ``.npz``; object entries go through :class:`RestrictedUnpickler`.

    Args:
        path (str): The ``.npz`` file.
        expected (str): What the file should be, for error messages.
        fix (str): How to get a good copy, for error messages.

    Returns:
        dict: ``{key: np.ndarray}`` in file order; object arrays keep dtype object (a 0-d object array
        holding a dict stays one; callers ``.item()`` it).

    Raises:
        FileNotFoundError: No such file.
        UnsafePickleError: An object entry names a global outside the allow-list.
        DataFileError: The file is empty, truncated or not an ``.npz``.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: no such file ({expected}). {fix}')
    try:
        npz = np.load(path, allow_pickle=False)
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise DataFileError(f'{path}: expected {expected} (a zip of .npy entries), found a single '
                                f'.npy array. {fix}')
        with npz:
            out: Dict[str, Any] = {}
            for key in npz.files:
                try:
                    out[key] = npz[key]
                except ValueError as err:
                    if 'allow_pickle' not in str(err):
                        raise
                    out[key] = _read_object_member(npz, key, path)
            return out
    except (UnsafePickleError, DataFileError, PermissionError):
        raise
    except READ_ERRORS as err:
        raise DataFileError(unreadable_file_message(path, err, expected, fix)) from err


def load_data_file(path: str, expected: str, fix: str) -> Any:
    """Reads a ``.json``, ``.yaml``/``.yml`` or ``.pkl``/``.pickle`` data file without running code from it.

    Pickles go through :class:`RestrictedUnpickler` and YAML through ``yaml.safe_load`` (MMEngine's ``load``
    would construct any Python object).

    Args:
        path (str): The file.
        expected (str): What the file should be, for error messages.
        fix (str): How to get a good copy, for error messages.

    Returns:
        The parsed object.

    Raises:
        FileNotFoundError: No such file.
        UnsafePickleError: The pickle names a global outside the allow-list.
        DataFileError: Another extension, or the file cannot be parsed.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: no such file ({expected}). {fix}')
    ext = osp.splitext(path)[1].lower()
    if ext not in ('.json', '.yaml', '.yml', '.pkl', '.pickle'):
        raise DataFileError(f'{path}: expected {expected} as .json, .yaml or .pkl, got "{ext}". {fix}')
    try:
        if ext == '.json':
            with open(path) as f:
                return json.load(f)
        if ext in ('.yaml', '.yml'):
            with open(path) as f:
                return yaml.safe_load(f)
        with open(path, 'rb') as f:
            return restricted_load(f, path)
    except (UnsafePickleError, PermissionError):
        raise
    except READ_ERRORS + (yaml.YAMLError, ) as err:  # json's JSONDecodeError is a ValueError
        raise DataFileError(unreadable_file_message(path, err, expected, fix)) from err
