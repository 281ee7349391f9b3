"""Lets one place report non-finite values during a training step (``NaNGuardHook``).

The body model (``SMPLBodyModel(check_finite=True)``) and ``MeshLoss(check_finite=True)`` raise on NaN/inf
inputs or losses, naming only the tensor. While :func:`defer_finite_checks` is active they let the values
through instead, so that ``NaNGuardHook``, which wraps the training step in this context, sees the loss
terms before the backward pass and reports the term, the iteration, the last finite value, the suspect
labels and a hint. Outside the context (inference, validation, runs without the hook) they raise as before.
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
