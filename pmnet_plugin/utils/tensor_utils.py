"""Tensor -> numpy conversion shared by the inference API, the metrics and the tools."""
from typing import Any, Optional

import numpy as np
import torch


def to_numpy(x: Any, dtype: Optional[np.dtype] = None) -> Optional[np.ndarray]:
    """Converts a tensor (any device, any dtype incl. bfloat16) or array-like to a numpy array.

    Floating tensors are cast to float32 first: numpy has no bfloat16, and MMPose's own
    ``to_numpy`` fails on bf16 tensors from AMP. ``None`` stays ``None``.

    Args:
        x: Tensor, array, list, scalar or None.
        dtype (np.dtype, optional): Final dtype; default keeps the (float32-cast) dtype.

    Returns:
        np.ndarray or None.
    """
    if x is None:
        return None
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        x = (x.float() if x.is_floating_point() else x).numpy()
    return np.asarray(x, dtype=dtype)
