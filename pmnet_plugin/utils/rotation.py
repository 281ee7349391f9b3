"""Rotation conversions and averaging, batched over any leading dimensions.

Every function accepts float32 or float64 tensors of shape ``(..., *)`` and returns the same dtype/device.
Conventions (see ``docs/design.md``):

- axis-angle: ``(..., 3)``, the rotation vector ``theta * axis``.
- rotation matrix: ``(..., 3, 3)``, acting on column vectors.
- 6D: the first two COLUMNS of R flattened row-major, ``R[..., :, :2].reshape(..., 6)`` (Zhou et al. 2019,
  with SPIN's memory layout, so SPIN's ``smpl_mean_params.npz`` loads unchanged).
- quaternion: ``(..., 4)`` in ``(w, x, y, z)`` order, unit norm; ``q`` and ``-q`` are the same rotation.

The matrix -> quaternion conversion follows the numerically robust "pick the best-conditioned candidate"
scheme (as in PyTorch3D); averaging follows Markley et al. 2007, "Averaging Quaternions".
"""
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    'axis_angle_to_matrix', 'matrix_to_axis_angle', 'rot6d_to_matrix', 'matrix_to_rot6d',
    'quaternion_to_matrix', 'matrix_to_quaternion', 'axis_angle_to_quaternion',
    'quaternion_to_axis_angle', 'average_quaternions', 'standardize_quaternion'
]


def _check_last(x: Tensor, shape: tuple, name: str) -> None:
    if tuple(x.shape[x.dim() - len(shape):]) != shape or x.dim() < len(shape):
        raise ValueError(f'{name}: expected shape (..., {", ".join(map(str, shape))}), '
                         f'got {tuple(x.shape)}')


def axis_angle_to_quaternion(axis_angle: Tensor) -> Tensor:
    """Axis-angle to unit quaternion.

    Args:
        axis_angle (Tensor): Rotation vectors, shape (..., 3).

    Returns:
        Tensor: Quaternions (w, x, y, z), shape (..., 4), with w >= 0 for angles <= pi.
    """
    _check_last(axis_angle, (3, ), 'axis_angle_to_quaternion')
    angle = torch.linalg.norm(axis_angle, dim=-1, keepdim=True)
    half = 0.5 * angle
    small = angle.abs() < 1e-6
    # sin(a/2)/a, Taylor expanded near zero to keep gradients finite.
    safe = torch.where(small, torch.ones_like(angle), angle)
    s_over_a = torch.where(small, 0.5 - angle * angle / 48.0, torch.sin(half) / safe)
    return torch.cat([torch.cos(half), axis_angle * s_over_a], dim=-1)


def quaternion_to_axis_angle(quaternion: Tensor) -> Tensor:
    """Unit quaternion to axis-angle (angle in [0, pi]).

    Args:
        quaternion (Tensor): Quaternions (w, x, y, z), shape (..., 4). Need not be normalised.

    Returns:
        Tensor: Rotation vectors, shape (..., 3).
    """
    _check_last(quaternion, (4, ), 'quaternion_to_axis_angle')
    q = standardize_quaternion(F.normalize(quaternion, dim=-1))
    xyz = q[..., 1:]
    sin_half = torch.linalg.norm(xyz, dim=-1, keepdim=True)
    half = torch.atan2(sin_half, q[..., :1])
    angle = 2.0 * half
    small = sin_half < 1e-6
    safe = torch.where(small, torch.ones_like(sin_half), sin_half)
    # angle / sin(angle/2) -> 2 + angle^2/24 near zero.
    scale = torch.where(small, 2.0 + angle * angle / 24.0, angle / safe)
    return xyz * scale


def quaternion_to_matrix(quaternion: Tensor) -> Tensor:
    """Quaternion to rotation matrix.

    Args:
        quaternion (Tensor): Quaternions (w, x, y, z), shape (..., 4). Normalised inside.

    Returns:
        Tensor: Rotation matrices, shape (..., 3, 3).
    """
    _check_last(quaternion, (4, ), 'quaternion_to_matrix')
    w, x, y, z = F.normalize(quaternion, dim=-1).unbind(-1)
    two = 2.0
    mat = torch.stack([
        1 - two * (y * y + z * z), two * (x * y - z * w), two * (x * z + y * w),
        two * (x * y + z * w), 1 - two * (x * x + z * z), two * (y * z - x * w),
        two * (x * z - y * w), two * (y * z + x * w), 1 - two * (x * x + y * y)
    ], dim=-1)
    return mat.reshape(quaternion.shape[:-1] + (3, 3))


def _sqrt_positive_part(x: Tensor) -> Tensor:
    ret = torch.zeros_like(x)
    pos = x > 0
    ret[pos] = torch.sqrt(x[pos])
    return ret


def matrix_to_quaternion(matrix: Tensor) -> Tensor:
    """Rotation matrix to unit quaternion with w >= 0.

    Args:
        matrix (Tensor): Rotation matrices, shape (..., 3, 3).

    Returns:
        Tensor: Quaternions (w, x, y, z), shape (..., 4).
    """
    _check_last(matrix, (3, 3), 'matrix_to_quaternion')
    batch = matrix.shape[:-2]
    m = matrix.reshape(batch + (9, ))
    m00, m01, m02, m10, m11, m12, m20, m21, m22 = m.unbind(-1)
    q_abs = _sqrt_positive_part(
        torch.stack([
            1.0 + m00 + m11 + m22, 1.0 + m00 - m11 - m22, 1.0 - m00 + m11 - m22,
            1.0 - m00 - m11 + m22
        ], dim=-1))
    # Four candidates, each exact when its leading component is large.
    cands = torch.stack([
        torch.stack([q_abs[..., 0]**2, m21 - m12, m02 - m20, m10 - m01], dim=-1),
        torch.stack([m21 - m12, q_abs[..., 1]**2, m10 + m01, m02 + m20], dim=-1),
        torch.stack([m02 - m20, m10 + m01, q_abs[..., 2]**2, m12 + m21], dim=-1),
        torch.stack([m10 - m01, m20 + m02, m21 + m12, q_abs[..., 3]**2], dim=-1),
    ], dim=-2)
    floor = torch.tensor(0.1, dtype=q_abs.dtype, device=q_abs.device)
    cands = cands / (2.0 * torch.maximum(q_abs[..., None], floor))
    best = q_abs.argmax(dim=-1)
    quat = torch.gather(cands, -2, best[..., None, None].expand(batch + (1, 4))).squeeze(-2)
    return standardize_quaternion(F.normalize(quat, dim=-1))


def standardize_quaternion(quaternion: Tensor) -> Tensor:
    """Flip quaternions so that w >= 0 (q and -q are the same rotation).

    Args:
        quaternion (Tensor): Quaternions (w, x, y, z), shape (..., 4).

    Returns:
        Tensor: Same rotations with non-negative real part, shape (..., 4).
    """
    return torch.where(quaternion[..., :1] < 0, -quaternion, quaternion)


def axis_angle_to_matrix(axis_angle: Tensor) -> Tensor:
    """Axis-angle to rotation matrix (Rodrigues, via the quaternion).

    Args:
        axis_angle (Tensor): Rotation vectors, shape (..., 3).

    Returns:
        Tensor: Rotation matrices, shape (..., 3, 3).
    """
    return quaternion_to_matrix(axis_angle_to_quaternion(axis_angle))


def matrix_to_axis_angle(matrix: Tensor) -> Tensor:
    """Rotation matrix to axis-angle (angle in [0, pi]).

    Args:
        matrix (Tensor): Rotation matrices, shape (..., 3, 3).

    Returns:
        Tensor: Rotation vectors, shape (..., 3).
    """
    return quaternion_to_axis_angle(matrix_to_quaternion(matrix))


def rot6d_to_matrix(rot6d: Tensor) -> Tensor:
    """6D representation to rotation matrix by Gram-Schmidt (Zhou et al. 2019, SPIN's layout).

    Args:
        rot6d (Tensor): Shape (..., 6), the first two columns of R flattened row-major
            ``[R00, R01, R10, R11, R20, R21]``.

    Returns:
        Tensor: Rotation matrices, shape (..., 3, 3), whose first two columns are the orthonormalised inputs.
    """
    _check_last(rot6d, (6, ), 'rot6d_to_matrix')
    x = rot6d.reshape(rot6d.shape[:-1] + (3, 2))
    a1, a2 = x[..., 0], x[..., 1]
    b1 = F.normalize(a1, dim=-1)
    b2 = F.normalize(a2 - (b1 * a2).sum(-1, keepdim=True) * b1, dim=-1)
    b3 = torch.cross(b1, b2, dim=-1)
    return torch.stack([b1, b2, b3], dim=-1)


def matrix_to_rot6d(matrix: Tensor) -> Tensor:
    """Rotation matrix to 6D (first two columns, SPIN's layout).

    Args:
        matrix (Tensor): Rotation matrices, shape (..., 3, 3).

    Returns:
        Tensor: Shape (..., 6).
    """
    _check_last(matrix, (3, 3), 'matrix_to_rot6d')
    return matrix[..., :, :2].reshape(matrix.shape[:-2] + (6, ))


def average_quaternions(quaternions: Tensor, weights: Optional[Tensor] = None) -> Tensor:
    """Weighted rotation average (Markley, Cheng, Crassidis, Oshman 2007).

    The average maximises ``sum_i w_i (q_i . q)^2``: it is the eigenvector of the largest eigenvalue of
    ``M = sum_i w_i q_i q_i^T``. Being quadratic in each ``q_i`` it is invariant to their signs (antipodal
    quaternions are the same rotation). The returned sign is chosen to agree with the input of largest weight
    (so averaging copies of ``q`` returns ``q`` itself).

    Args:
        quaternions (Tensor): Quaternions (w, x, y, z), shape (..., N, 4). Normalised inside.
        weights (Tensor, optional): Non-negative weights, shape (..., N). Defaults to uniform.

    Returns:
        Tensor: Unit average quaternions, shape (..., 4).

    Note:
        Gradients through ``torch.linalg.eigh`` are undefined when the two largest eigenvalues coincide
        (e.g. two equally weighted rotations 180 degrees apart, where the average is not unique).
    """
    if quaternions.dim() < 2 or quaternions.shape[-1] != 4:
        raise ValueError(f'average_quaternions: expected (..., N, 4), got {tuple(quaternions.shape)}')
    q = F.normalize(quaternions, dim=-1)
    if weights is None:
        weights = torch.ones(q.shape[:-1], dtype=q.dtype, device=q.device)
    if weights.shape != q.shape[:-1]:
        raise ValueError(f'average_quaternions: weights shape {tuple(weights.shape)} does not match '
                         f'quaternions {tuple(q.shape)}')
    weights = weights.to(q.dtype)
    mat = torch.einsum('...n,...ni,...nj->...ij', weights, q, q)
    mat = mat / weights.sum(-1).clamp_min(torch.finfo(q.dtype).tiny)[..., None, None]
    _, vecs = torch.linalg.eigh(mat)
    avg = vecs[..., :, -1]
    ref = torch.gather(q, -2, weights.argmax(-1)[..., None, None].expand(q.shape[:-2] + (1, 4)))
    sign = torch.sign((avg * ref.squeeze(-2)).sum(-1, keepdim=True))
    sign = torch.where(sign == 0, torch.ones_like(sign), sign)
    return avg * sign
