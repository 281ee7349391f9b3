import numpy as np
import torch

from pmnet_plugin.utils.tensor_utils import to_numpy


def test_bfloat16_becomes_float32_with_values_kept():
    x = torch.tensor([[1.5, -2.25]], dtype=torch.bfloat16, requires_grad=True)
    out = to_numpy(x)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[1.5, -2.25]])


def test_integers_keep_their_dtype_and_dtype_argument_casts():
    assert to_numpy(torch.tensor([3, 4])).dtype == np.int64
    out = to_numpy([1, 2], np.float64)
    assert out.dtype == np.float64 and out.tolist() == [1.0, 2.0]
    assert to_numpy(None) is None
