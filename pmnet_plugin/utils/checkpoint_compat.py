"""Lets MMEngine 0.10.x resume / load its own checkpoints under torch >= 2.6, keeping safe loading.

Since torch 2.6, ``torch.load`` defaults to ``weights_only=True``: it only unpickles tensors, containers and
an allow-list of classes. MMEngine 0.10.7 calls ``torch.load(filename, map_location=...)`` without
``weights_only``, and a Runner checkpoint holds more than tensors: ``meta['message_hub']`` keeps the
training logs as :class:`mmengine.logging.HistoryBuffer` objects backed by numpy arrays, and
``meta['dataset_meta']`` may hold numpy arrays. So ``--resume`` and ``load_checkpoint`` fail with
``Weights only load failed ... Unsupported global: mmengine.logging.history_buffer.HistoryBuffer``.

The fix here is the narrowest one: allow-list exactly the classes found in our checkpoints (found by saving
a real Runner checkpoint and asking ``torch.serialization.get_unsafe_globals_in_checkpoint``), with
``torch.serialization.add_safe_globals``. Every other global is still refused, no environment variable
(``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD``) is set and site-packages are untouched. It is applied when
``pmnet_plugin`` is imported (``pmnet_plugin.utils`` is imported first). See ``docs/configs.md``.
"""
from typing import List

import numpy as np
import torch

_APPLIED: List[object] = []


def _numpy_globals() -> List[object]:
    """The numpy callables/classes that pickled arrays, dtypes and scalars refer to."""
    core = getattr(np, '_core', None) or np.core  # numpy 2 renamed np.core -> np._core
    multiarray = core.multiarray
    found = [multiarray._reconstruct, np.ndarray, np.dtype, multiarray.scalar]
    # numpy >= 1.25 pickles a dtype as its class (numpy.dtypes.Float64DType, ...)
    for name in ('float64', 'float32', 'float16', 'int64', 'int32', 'int8', 'uint8', 'bool', 'object'):
        found.append(type(np.dtype(name)))
    return found


def mmengine_safe_globals() -> List[object]:
    """Returns the globals an MMEngine Runner checkpoint refers to besides tensors and builtins.

    Returns:
        list: ``HistoryBuffer`` plus the numpy array/dtype/scalar reconstructors. Empty if MMEngine is not
        installed.
    """
    try:
        from mmengine.logging.history_buffer import HistoryBuffer
    except ImportError:  # pragma: no cover - mmengine is a hard dependency of the plugin
        return []
    return [HistoryBuffer] + _numpy_globals()


def allow_mmengine_checkpoints() -> List[object]:
    """Adds :func:`mmengine_safe_globals` to torch's ``weights_only`` allow-list (idempotent).

    A no-op on torch < 2.4, which has no ``add_safe_globals`` (and loads with ``weights_only=False`` by
    default anyway).

    Returns:
        list: The globals allow-listed by this process (empty when nothing was needed).
    """
    if _APPLIED:
        return list(_APPLIED)
    add_safe_globals = getattr(torch.serialization, 'add_safe_globals', None)
    if add_safe_globals is None:
        return []
    safe = mmengine_safe_globals()
    if safe:
        add_safe_globals(safe)
        _APPLIED.extend(safe)
    return list(_APPLIED)


allow_mmengine_checkpoints()
