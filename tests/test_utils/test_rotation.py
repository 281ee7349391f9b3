"""Property tests of pmnet_plugin.utils.rotation on seeded random rotations (float32 and float64)."""
import math

import numpy as np
import pytest
import torch

from pmnet_plugin.utils.rotation import (average_quaternions, axis_angle_to_matrix,
                                         axis_angle_to_quaternion, matrix_to_axis_angle,
                                         matrix_to_quaternion, matrix_to_rot6d,
                                         quaternion_to_axis_angle, quaternion_to_matrix,
                                         rot6d_to_matrix, standardize_quaternion)

DTYPES = [torch.float32, torch.float64]


def _tol(dtype):
    return 1e-5 if dtype == torch.float32 else 1e-10


def _random_axis_angle(n, dtype, seed=0, max_angle=math.pi - 1e-3):
    g = torch.Generator().manual_seed(seed)
    axis = torch.nn.functional.normalize(torch.randn(n, 3, generator=g, dtype=torch.float64), dim=-1)
    angle = torch.rand(n, 1, generator=g, dtype=torch.float64) * max_angle
    return (axis * angle).to(dtype)


def _rodrigues_reference(aa):
    """Independent numpy Rodrigues formula for one rotation vector."""
    theta = np.linalg.norm(aa)
    if theta < 1e-12:
        return np.eye(3)
    k = aa / theta
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + math.sin(theta) * kx + (1 - math.cos(theta)) * kx @ kx


@pytest.mark.parametrize('dtype', DTYPES)
def test_axis_angle_matrix_matches_rodrigues_and_is_orthonormal(dtype):
    aa = _random_axis_angle(64, dtype)
    mat = axis_angle_to_matrix(aa)
    assert mat.dtype == dtype and mat.shape == (64, 3, 3)
    ref = np.stack([_rodrigues_reference(a) for a in aa.double().numpy()])
    np.testing.assert_allclose(mat.double().numpy(), ref, atol=10 * _tol(dtype))
    eye = torch.eye(3, dtype=dtype).expand(64, 3, 3)
    torch.testing.assert_close(mat @ mat.transpose(-1, -2), eye, atol=10 * _tol(dtype), rtol=0)
    assert torch.allclose(torch.det(mat), torch.ones(64, dtype=dtype), atol=10 * _tol(dtype))


@pytest.mark.parametrize('dtype', DTYPES)
def test_round_trips(dtype):
    aa = _random_axis_angle(200, dtype, seed=1).reshape(10, 20, 3)  # arbitrary leading dims
    tol = dict(atol=100 * _tol(dtype), rtol=0)
    torch.testing.assert_close(matrix_to_axis_angle(axis_angle_to_matrix(aa)), aa, **tol)
    torch.testing.assert_close(quaternion_to_axis_angle(axis_angle_to_quaternion(aa)), aa, **tol)
    mat = axis_angle_to_matrix(aa)
    torch.testing.assert_close(quaternion_to_matrix(matrix_to_quaternion(mat)), mat, **tol)
    torch.testing.assert_close(rot6d_to_matrix(matrix_to_rot6d(mat)), mat, **tol)
    q = axis_angle_to_quaternion(aa)
    torch.testing.assert_close(matrix_to_quaternion(quaternion_to_matrix(q)), standardize_quaternion(q), **tol)


def test_small_and_zero_angles_are_finite_with_finite_gradients():
    aa = torch.tensor([[0.0, 0.0, 0.0], [1e-8, 0.0, 0.0], [0.0, 1e-4, 0.0]], dtype=torch.float64,
                      requires_grad=True)
    mat = axis_angle_to_matrix(aa)
    mat.sum().backward()
    assert torch.isfinite(aa.grad).all()
    torch.testing.assert_close(mat[0], torch.eye(3, dtype=torch.float64))
    back = matrix_to_axis_angle(mat.detach())
    torch.testing.assert_close(back, aa.detach(), atol=1e-10, rtol=0)


def test_angle_pi_round_trip_up_to_sign():
    aa = torch.tensor([[math.pi, 0.0, 0.0], [0.0, 0.0, math.pi]], dtype=torch.float64)
    back = matrix_to_axis_angle(axis_angle_to_matrix(aa))
    # (pi, 0, 0) and (-pi, 0, 0) are the same rotation.
    torch.testing.assert_close(axis_angle_to_matrix(back), axis_angle_to_matrix(aa), atol=1e-10, rtol=0)
    torch.testing.assert_close(back.norm(dim=-1), torch.full((2, ), math.pi, dtype=torch.float64))


def test_rot6d_layout_is_spin_first_two_columns():
    mat = axis_angle_to_matrix(_random_axis_angle(5, torch.float64, seed=2))
    r6 = matrix_to_rot6d(mat)
    expected = torch.stack([mat[:, 0, 0], mat[:, 0, 1], mat[:, 1, 0], mat[:, 1, 1], mat[:, 2, 0], mat[:, 2, 1]],
                           dim=-1)
    torch.testing.assert_close(r6, expected)
    # SPIN's mean pose: global orient (pi, 0, 0) -> diag(1, -1, -1); identity elsewhere.
    spin_root = torch.tensor([1.0, 0.0, 0.0, -1.0, 0.0, 0.0], dtype=torch.float64)
    root = axis_angle_to_matrix(torch.tensor([math.pi, 0.0, 0.0], dtype=torch.float64))
    torch.testing.assert_close(matrix_to_rot6d(root), spin_root, atol=1e-12, rtol=0)
    flip_yz = torch.diag(torch.tensor([1.0, -1.0, -1.0], dtype=torch.float64))
    torch.testing.assert_close(rot6d_to_matrix(spin_root), flip_yz)


def test_rot6d_gram_schmidt_orthonormalises_noisy_input():
    g = torch.Generator().manual_seed(3)
    r6 = torch.randn(100, 6, generator=g, dtype=torch.float64)
    mat = rot6d_to_matrix(r6)
    torch.testing.assert_close(mat @ mat.transpose(-1, -2), torch.eye(3, dtype=torch.float64).expand(100, 3, 3))
    torch.testing.assert_close(torch.det(mat), torch.ones(100, dtype=torch.float64))
    # First column is the normalised first input column.
    first = torch.nn.functional.normalize(r6.reshape(100, 3, 2)[..., 0], dim=-1)
    torch.testing.assert_close(mat[..., 0], first)


@pytest.mark.parametrize('dtype', DTYPES)
def test_average_of_identical_quaternions_is_itself(dtype):
    q = axis_angle_to_quaternion(_random_axis_angle(7, dtype, seed=4))
    stack = q[:, None].expand(7, 5, 4)
    avg = average_quaternions(stack, torch.rand(7, 5, dtype=dtype) + 0.1)
    torch.testing.assert_close(avg, q, atol=100 * _tol(dtype), rtol=0)


def test_average_is_antipodal_invariant():
    g = torch.Generator().manual_seed(5)
    q = axis_angle_to_quaternion(_random_axis_angle(6, torch.float64, seed=5) * 0.3)
    w = torch.rand(6, generator=g, dtype=torch.float64)
    flipped = q * torch.tensor([1, -1, 1, -1, -1, 1], dtype=torch.float64)[:, None]
    a, b = average_quaternions(q, w), average_quaternions(flipped, w)
    # Same rotation (and same sign, which follows the largest-weight input's rotation).
    torch.testing.assert_close(quaternion_to_matrix(a), quaternion_to_matrix(b), atol=1e-12, rtol=0)
    assert abs(float((a * b).sum())) == pytest.approx(1.0, abs=1e-12)


def test_two_rotation_weighted_average_about_one_axis():
    # Rotations by 0 and 0.4 rad about z with weights 3:1. Markley's average of two quaternions with the
    # same axis is the rotation about that axis by the angle maximising sum_i w_i cos^2((theta_i - t) / 2),
    # which has the closed form tan(t) = w2 sin(0.4) / (w1 + w2 cos(0.4)).
    qs = axis_angle_to_quaternion(torch.tensor([[0.0, 0.0, 0.0], [0.0, 0.0, 0.4]], dtype=torch.float64))
    avg = average_quaternions(qs, torch.tensor([3.0, 1.0], dtype=torch.float64))
    expected = math.atan2(math.sin(0.4), 3.0 + math.cos(0.4))
    torch.testing.assert_close(quaternion_to_axis_angle(avg), torch.tensor([0.0, 0.0, expected],
                                                                           dtype=torch.float64))
    # For small angles it is close to slerp at the weight ratio (0.25 * 0.4 = 0.1 rad).
    assert expected == pytest.approx(0.1, abs=2e-3)


def test_average_equal_weights_is_midpoint_for_general_rotations():
    a = axis_angle_to_quaternion(torch.tensor([0.3, -0.2, 0.5], dtype=torch.float64))
    rel = axis_angle_to_quaternion(torch.tensor([0.1, 0.4, -0.2], dtype=torch.float64))
    # b = a * rel (quaternion product); the equal-weight average is a * rel^(1/2).

    def qmul(p, q):
        w1, x1, y1, z1 = p
        w2, x2, y2, z2 = q
        return torch.stack([w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2, w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
                            w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2, w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2])
    b = qmul(a, rel)
    half = axis_angle_to_quaternion(quaternion_to_axis_angle(rel) * 0.5)
    expected = qmul(a, half)
    avg = average_quaternions(torch.stack([a, b]))
    torch.testing.assert_close(avg, expected, atol=1e-12, rtol=0)


def test_average_batched_and_gradients_flow():
    q = axis_angle_to_quaternion(_random_axis_angle(24, torch.float64, seed=6) * 0.2).reshape(2, 3, 4, 4)
    w = torch.rand(2, 3, 4, dtype=torch.float64, requires_grad=True)
    avg = average_quaternions(q, w)
    assert avg.shape == (2, 3, 4)
    torch.testing.assert_close(avg.norm(dim=-1), torch.ones(2, 3, dtype=torch.float64))
    avg[..., 1:].sum().backward()
    assert torch.isfinite(w.grad).all() and w.grad.abs().sum() > 0


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match=r'\(\.\.\., 3\)'):
        axis_angle_to_matrix(torch.zeros(4, 4))
    with pytest.raises(ValueError, match='6'):
        rot6d_to_matrix(torch.zeros(4, 5))
    with pytest.raises(ValueError, match='weights'):
        average_quaternions(torch.zeros(2, 3, 4), torch.ones(2, 4))
