"""Lets MMEngine 0.10.x resume / load its own checkpoints under torch >= 2.6, keeping safe loading.

Since torch 2.6, ``torch.load`` defaults to ``weights_only=True``: it only unpickles tensors, containers and
an allow-list of classes. MMEngine 0.10.7 calls ``torch.load(filename, map_location=...)`` without
``weights_only``, and a Runner checkpoint holds more than tensors: ``meta['message_hub']`` keeps the
training logs as :class:`mmengine.logging.HistoryBuffer` objects backed by numpy arrays, and
``meta['dataset_meta']`` may hold numpy arrays. So ``--resume`` and ``load_checkpoint`` fail with
``Weights only load failed ... Unsupported global: mmengine.logging.history_buffer.HistoryBuffer``.

The fix here is the narrowest one: allow-list exactly the globals found in our checkpoints (by saving real
Runner checkpoints and asking ``torch.serialization.get_unsafe_globals_in_checkpoint``) with
``torch.serialization.add_safe_globals``: ``HistoryBuffer``; numpy's ``_reconstruct``, ``ndarray``, ``dtype``,
``scalar`` and the dtype classes; and, for the ``builtins.getattr`` that HistoryBuffer's pickled statistics
methods refer to, a stand-in that resolves only ``HistoryBuffer.min/max/current/mean``. Every other global is
still refused, no
environment variable (``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD``) is set and site-packages are untouched. It is
applied when ``pmnet_plugin`` is imported (``pmnet_plugin.utils`` is imported first). See docs/configs.md.
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

    ``HistoryBuffer.__getstate__`` pickles its class-level ``_statistics_methods`` dict, whose values
    (``HistoryBuffer.min``, ...) pickle as ``getattr(HistoryBuffer, 'min')``. Allowing ``getattr`` itself
    would allow reaching any attribute of any allowed object; this resolves only those statistics.

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
            f'checkpoint_compat: refusing getattr({obj!r}, {name!r}) in a weights_only load '
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
