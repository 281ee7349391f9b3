from .nan_guard_hook import NaNGuardHook  # noqa: F401

__all__ = ['NaNGuardHook']
