"""Tensor -> numpy conversion shared by the inference API, the metrics and the tools."""
from typing import Any, Optional

import numpy as np
import torch
from mmpose.utils.tensor_utils import to_numpy as _mmpose_to_numpy


def to_numpy(x: Any, dtype: Optional[np.dtype] = None) -> Optional[np.ndarray]:
    """MMPose's ``to_numpy`` for a tensor of any device and float dtype (bfloat16 included), or any array-like.

    Floating tensors are cast to float32 first (numpy has no bfloat16, so MMPose's function fails on AMP
    outputs). Lists and scalars go through ``np.asarray``; ``None`` stays ``None``.

    Args:
        x: Tensor, array, list, scalar or None.
        dtype (np.dtype, optional): Final dtype; default keeps the (float32-cast) dtype.

    Returns:
        np.ndarray or None.
    """
    if x is None:
        return None
    if isinstance(x, torch.Tensor):
        x = _mmpose_to_numpy(x.float() if x.is_floating_point() else x)
    return np.asarray(x, dtype=dtype)
