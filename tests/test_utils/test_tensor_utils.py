import numpy as np
import pytest
import torch
from mmpose.utils.tensor_utils import to_numpy as mmpose_to_numpy

from pmnet_plugin.utils.tensor_utils import to_numpy


@pytest.mark.parametrize('dtype', [torch.bfloat16, torch.float16])
def test_half_precision_becomes_float32_with_values_kept(dtype):
    x = torch.tensor([[1.5, -2.25]], dtype=dtype, requires_grad=True)
    out = to_numpy(x)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, [[1.5, -2.25]])


def test_mmpose_alone_fails_on_bfloat16():
    with pytest.raises(TypeError):
        mmpose_to_numpy(torch.ones(2, dtype=torch.bfloat16))


def test_float_tensors_match_mmpose_after_the_float32_cast():
    x = torch.randn(3, 4, dtype=torch.float64)
    out = to_numpy(x)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, mmpose_to_numpy(x.float()))
    assert to_numpy(x, np.float64).dtype == np.float64


def test_integers_keep_their_dtype_and_dtype_argument_casts():
    assert to_numpy(torch.tensor([3, 4])).dtype == np.int64
    out = to_numpy([1, 2], np.float64)
    assert out.dtype == np.float64 and out.tolist() == [1.0, 2.0]
    assert to_numpy(None) is None
