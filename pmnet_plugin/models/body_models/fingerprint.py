"""A fingerprint of an SMPL-format body model: which body a rendered split was made with.

Labels rendered with one body (its joints, its mesh) are wrong for another: a model evaluated against the
renders of another body is scored against that body's joints. The fingerprint ties a split to its body
without storing the body, and is equal for the same body read on another library stack.

It hashes, for each array that defines the body (``v_template``, ``shapedirs``, ``posedirs``,
``J_regressor``, ``weights``, ``kintree_table``, ``f``), its shape and three numbers: its norm (6
significant digits) and two projections divided by the norm (6 decimals), its sum and its dot product with
``cos(i)``. Hashing every value rounded to a grid would flip on values that float noise moves across a
rounding boundary (millions of values); three numbers per array at 1e-6 are moved by noise of 1e-14
with a probability of about 1e-8, while another body changes all of them.
"""
import hashlib
from typing import Dict

import numpy as np

__all__ = ['BODY_KEYS', 'fingerprint_arrays', 'body_model_fingerprint']

BODY_KEYS = ('v_template', 'shapedirs', 'posedirs', 'J_regressor', 'weights', 'kintree_table', 'f')


def _summary(name: str, value: np.ndarray) -> str:
    x = np.asarray(value, np.float64).ravel()
    norm = float(np.sqrt(np.dot(x, x)))
    scale = norm if norm > 0 else 1.0
    ramp = np.cos(np.arange(x.size, dtype=np.float64))
    total, proj = (round(float(v) / scale, 6) + 0.0 for v in (np.sum(x), np.dot(x, ramp)))  # no -0.0
    return f'{name}{tuple(np.shape(value))}:{norm:.6e}:{total:.6f}:{proj:.6f}'


def fingerprint_arrays(arrays: Dict[str, np.ndarray]) -> str:
    """The fingerprint of a body given as arrays (:func:`~.smpl_io.load_smpl_model_file`).

    Args:
        arrays (dict): At least the keys of :data:`BODY_KEYS` (dense arrays).

    Returns:
        str: ``'smplfp1:'`` followed by 16 hex digits.
    """
    text = ';'.join(_summary(k, arrays[k]) for k in BODY_KEYS)
    return 'smplfp1:' + hashlib.sha256(text.encode()).hexdigest()[:16]


def body_model_fingerprint(path: str) -> str:
    """The fingerprint of the SMPL model file ``path`` (``.pkl`` or ``.npz``)."""
    from .smpl_io import load_smpl_model_file
    return fingerprint_arrays(load_smpl_model_file(path))
