"""Lets ``NaNGuardHook`` be the one place that reports non-finite values during a training step.

``SMPLBodyModel(check_finite=True)`` and ``MeshLoss(check_finite=True)`` raise on NaN/inf; inside
:func:`defer_finite_checks` they let the values through for the hook to report with more context.
"""
import contextlib
import contextvars
from typing import Iterator, List, Sequence, Tuple

import torch

__all__ = ['defer_finite_checks', 'finite_checks_deferred', 'non_finite']

_DEFERRED = contextvars.ContextVar('pmnet_finite_checks_deferred', default=False)


@contextlib.contextmanager
def defer_finite_checks() -> Iterator[None]:
    """Within this context :func:`finite_checks_deferred` is True (restored on exit, also on errors)."""
    token = _DEFERRED.set(True)
    try:
        yield
    finally:
        _DEFERRED.reset(token)


def finite_checks_deferred() -> bool:
    """bool: Whether a caller (``NaNGuardHook``) checks finiteness itself, after the forward pass."""
    return _DEFERRED.get()


def non_finite(named: Sequence[Tuple[str, torch.Tensor]]) -> List[str]:
    """Names of the tensors holding NaN or inf, read back to the host in one device sync."""
    if not named:
        return []
    ok = torch.stack([torch.isfinite(t.detach()).all() for _, t in named]).tolist()
    return [name for (name, _), good in zip(named, ok) if not good]
