"""Run-time pose-space geometry of the prototype memory: canonical poses and the chordal pose distance.

Offline k-means and prototype-file I/O live in :mod:`pmnet_plugin.prototypes`.
"""
import torch
from torch import Tensor

from pmnet_plugin.utils.rotation import axis_angle_to_matrix

__all__ = ['canonical_rotmats', 'pose_features', 'body_chordal_distance']


def canonical_rotmats(pose: Tensor) -> Tensor:
    """Canonicalise SMPL poses: rotation matrices with the global orient replaced by the identity.

    Args:
        pose (Tensor): Axis-angle (N, 72) / (N, 24, 3) or rotation matrices (N, 24, 3, 3).

    Returns:
        Tensor: Rotation matrices, shape (N, 24, 3, 3), joint 0 = identity.
    """
    if pose.dim() == 4:
        rot = pose.clone()
    else:
        rot = axis_angle_to_matrix(pose.reshape(pose.shape[0], -1, 3))
    rot[:, 0] = torch.eye(3, dtype=rot.dtype, device=rot.device)
    return rot


def pose_features(rotmats: Tensor) -> Tensor:
    """Flatten the body-joint rotation matrices (joints 1..23) into k-means features.

    The squared Euclidean distance between two features is the summed squared chordal distance
    ``sum_j ||R_j - R'_j||_F^2`` over body joints (global orient excluded = canonicalised).

    Args:
        rotmats (Tensor): Shape (N, 24, 3, 3).

    Returns:
        Tensor: Shape (N, 23 * 9).
    """
    return rotmats[:, 1:].reshape(rotmats.shape[0], -1)


def body_chordal_distance(rot_a: Tensor, rot_b: Tensor) -> Tensor:
    """Pairwise summed squared chordal distance over the body joints (global orient ignored).

    Args:
        rot_a (Tensor): Rotation matrices, shape (B, 24, 3, 3).
        rot_b (Tensor): Rotation matrices, shape (K, 24, 3, 3).

    Returns:
        Tensor: Distances, shape (B, K).
    """
    fa, fb = pose_features(rot_a), pose_features(rot_b).to(rot_a.dtype)
    d = (fa * fa).sum(1, keepdim=True) - 2 * fa @ fb.T + (fb * fb).sum(1)[None]
    return d.clamp(min=0)
