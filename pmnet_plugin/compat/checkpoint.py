"""Lets MMEngine 0.10 load its own Runner checkpoints under torch >= 2.6, keeping ``weights_only`` loading.

:func:`allow_mmengine_checkpoints` allow-lists exactly the globals found in Runner checkpoints
(``HistoryBuffer``, numpy arrays and dtypes, a ``getattr`` limited to ``HistoryBuffer``'s statistics);
every other global is still refused. Applied on import (``docs/configs.md``).
"""
import pickle
from typing import Any, List

import numpy as np
import torch

_APPLIED: List[object] = []
# HistoryBuffer's default statistics (mmengine.logging.history_buffer._set_default_statistics)
_STATISTICS = ('min', 'max', 'current', 'mean')


def _numpy_globals() -> List[object]:
    """The numpy globals a pickled ``np.ndarray`` / numpy scalar refers to, plus the dtype classes.

    A pickled dtype is ``np.dtype(...)`` followed by BUILD on the instance, whose type is a per-dtype class
    (``numpy.dtypes.Float32DType``, ...); torch only BUILDs allow-listed types, so those classes are listed.
    """
    core = getattr(np, '_core', None) or np.core  # numpy 2 renamed np.core -> np._core
    dtype_classes = {type(np.dtype(code)) for code in np.typecodes['All'] + 'OSUV'}
    dtypes_module = getattr(np, 'dtypes', None)  # numpy >= 1.25
    if dtypes_module is not None:
        dtype_classes |= {getattr(dtypes_module, n) for n in dir(dtypes_module) if n.endswith('DType')}
    return [core.multiarray._reconstruct, np.ndarray, np.dtype, core.multiarray.scalar,
            *sorted(dtype_classes, key=lambda c: c.__name__)]


def history_buffer_getattr(obj: Any, name: str) -> Any:
    """Stands in for ``builtins.getattr`` while ``torch.load`` unpickles with ``weights_only=True``.

    ``HistoryBuffer`` pickles its statistics methods as ``getattr(HistoryBuffer, 'min')``; this resolves only
    those, where ``getattr`` itself would reach any attribute of any allowed object.

    Args:
        obj: Must be :class:`mmengine.logging.HistoryBuffer`.
        name (str): A statistics method of it (``min``, ``max``, ``current``, ``mean`` or a registered one).

    Returns:
        The function ``HistoryBuffer.<name>``.
    """
    from mmengine.logging.history_buffer import HistoryBuffer
    allowed = set(_STATISTICS) | set(HistoryBuffer._statistics_methods)
    if obj is not HistoryBuffer or not isinstance(name, str) or name not in allowed:
        raise pickle.UnpicklingError(
            f'pmnet_plugin.compat.checkpoint: refusing getattr({obj!r}, {name!r}) in a weights_only load '
            f'(only HistoryBuffer statistics {sorted(allowed)} are allowed)')
    return getattr(HistoryBuffer, name)


def mmengine_safe_globals() -> List[object]:
    """Returns the globals an MMEngine Runner checkpoint refers to besides tensors and builtins.

    Returns:
        list: ``HistoryBuffer``, the numpy array/dtype/scalar reconstructors and
        ``(history_buffer_getattr, 'builtins.getattr')``. Empty if MMEngine is not installed.
    """
    try:
        from mmengine.logging.history_buffer import HistoryBuffer
    except ImportError:  # pragma: no cover - mmengine is a hard dependency of the plugin
        return []
    return [HistoryBuffer, *_numpy_globals(), (history_buffer_getattr, 'builtins.getattr')]


def allow_mmengine_checkpoints() -> List[object]:
    """Adds :func:`mmengine_safe_globals` to torch's ``weights_only`` allow-list (idempotent).

    A no-op on torch < 2.5 (no ``add_safe_globals`` with renamed entries; torch < 2.6 loads with
    ``weights_only=False`` by default anyway).

    Returns:
        list: The globals allow-listed by this process (empty when nothing was needed).
    """
    if _APPLIED:
        return list(_APPLIED)
    add_safe_globals = getattr(torch.serialization, 'add_safe_globals', None)
    if add_safe_globals is None or not hasattr(torch.serialization, 'get_unsafe_globals_in_checkpoint'):
        return []
    safe = mmengine_safe_globals()
    if safe:
        add_safe_globals(safe)
        _APPLIED.extend(safe)
    return list(_APPLIED)


allow_mmengine_checkpoints()
