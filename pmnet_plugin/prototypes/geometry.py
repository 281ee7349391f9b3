"""Run-time pose-space geometry of the prototype memory: canonical poses and the chordal pose distance.

Two kinds of prototype exist (``tilt_weight`` below, recorded in the prototype file):

- ``tilt_weight = 0``: body articulation only; the global orient is canonicalised to the identity and ignored.
- ``tilt_weight > 0``: articulation plus the body's tilt from the vertical: the camera-frame global orient
  (SMPL convention, camera y down) with its heading (the turn about the vertical axis) removed by
  :func:`heading_free_orient`; in distances the tilt counts ``tilt_weight`` times as much as one body joint.

Offline k-means and prototype-file I/O live in :mod:`pmnet_plugin.prototypes`.
"""
import math

import torch
from torch import Tensor

from pmnet_plugin.utils.rotation import axis_angle_to_matrix, matrix_to_quaternion

__all__ = ['canonical_rotmats', 'heading_free_orient', 'pose_features', 'body_chordal_distance',
           'nearest_prototype', 'MissingPrototypesError', 'require_built_prototypes']


def heading_free_orient(orient: Tensor) -> Tensor:
    """Remove the heading from camera-frame global orientations, keeping their tilt from the vertical.

    In the gravity-up frame ``U = diag(1, -1, -1) R`` (camera y down -> y up; the camera is assumed level),
    ``U = R_y(psi) S`` with ``S`` a rotation about a horizontal axis (swing-twist decomposition with the twist
    on the left). The result is ``diag(1, -1, -1) S``: the same tilt, facing the camera. Bodies turned about
    the vertical therefore map to the same orientation; an upright body facing the camera is unchanged. For a
    body turned exactly upside down the heading is undefined and taken as 0.

    Args:
        orient (Tensor): Rotation matrices, shape (N, 3, 3).

    Returns:
        Tensor: Rotation matrices, shape (N, 3, 3).
    """
    flip = torch.diag(torch.tensor([1.0, -1.0, -1.0], dtype=orient.dtype, device=orient.device))
    up = flip @ orient
    q = matrix_to_quaternion(up)  # the twist about y of (w, x, y, z) is (w, 0, y, 0) normalised
    w, y = q[:, 0], q[:, 2]
    heading = torch.where(torch.sqrt(w * w + y * y) > 1e-6, 2 * torch.atan2(y, w), torch.zeros_like(w))
    zero = torch.zeros_like(heading)
    untwist = axis_angle_to_matrix(torch.stack([zero, -heading, zero], -1))  # R_y(-psi)
    return flip @ untwist @ up


def canonical_rotmats(pose: Tensor, keep_tilt: bool = False) -> Tensor:
    """Canonicalise SMPL poses for the prototype memory.

    Args:
        pose (Tensor): Axis-angle (N, 72) / (N, 24, 3) or rotation matrices (N, 24, 3, 3).
        keep_tilt (bool): False: the global orient becomes the identity; True: it becomes
            :func:`heading_free_orient` of itself. Defaults to False.

    Returns:
        Tensor: Rotation matrices, shape (N, 24, 3, 3).
    """
    if pose.dim() == 4:
        rot = pose.clone()
    else:
        rot = axis_angle_to_matrix(pose.reshape(pose.shape[0], -1, 3))
    if keep_tilt:
        rot[:, 0] = heading_free_orient(rot[:, 0])
    else:
        rot[:, 0] = torch.eye(3, dtype=rot.dtype, device=rot.device)
    return rot


def pose_features(rotmats: Tensor, tilt_weight: float = 0.0) -> Tensor:
    """Flatten rotation matrices into k-means features.

    The squared Euclidean distance between two features is the summed squared chordal distance
    ``sum_j ||R_j - R'_j||_F^2`` over the body joints 1..23, plus ``tilt_weight`` times that of joint 0 when
    ``tilt_weight > 0`` (joint 0 then holds the heading-free orientation, :func:`canonical_rotmats`).

    Args:
        rotmats (Tensor): Shape (N, 24, 3, 3).
        tilt_weight (float): Weight of joint 0. Defaults to 0 (excluded).

    Returns:
        Tensor: Shape (N, 23 * 9), or (N, 24 * 9) when ``tilt_weight > 0``.
    """
    body = rotmats[:, 1:].reshape(rotmats.shape[0], -1)
    if tilt_weight <= 0:
        return body
    return torch.cat([math.sqrt(tilt_weight) * rotmats[:, 0].reshape(rotmats.shape[0], -1), body], 1)


def body_chordal_distance(rot_a: Tensor, rot_b: Tensor, tilt_weight: float = 0.0) -> Tensor:
    """Pairwise summed squared chordal distance over the body joints (and the tilt, see :func:`pose_features`).

    Args:
        rot_a (Tensor): Rotation matrices, shape (B, 24, 3, 3).
        rot_b (Tensor): Rotation matrices, shape (K, 24, 3, 3).
        tilt_weight (float): Weight of joint 0. Defaults to 0 (global orient ignored).

    Returns:
        Tensor: Distances, shape (B, K).
    """
    fa, fb = pose_features(rot_a, tilt_weight), pose_features(rot_b, tilt_weight).to(rot_a.dtype)
    d = (fa * fa).sum(1, keepdim=True) - 2 * fa @ fb.T + (fb * fb).sum(1)[None]
    return d.clamp(min=0)


def nearest_prototype(pose: Tensor, prototypes: Tensor, tilt_weight: float = 0.0) -> Tensor:
    """Index of the prototype nearest to each pose: the assignment target of ``PrototypeMemoryHead``.

    Args:
        pose (Tensor): Axis-angle (N, 72) / (N, 24, 3) or rotation matrices (N, 24, 3, 3), camera frame.
        prototypes (Tensor): Prototype rotation matrices (K, 24, 3, 3), as stored in the prototype file.
        tilt_weight (float): The file's ``tilt_weight`` (0: articulation only).

    Returns:
        Tensor: Shape (N,), int64.
    """
    keep = tilt_weight > 0
    return body_chordal_distance(canonical_rotmats(pose, keep_tilt=keep),
                                 canonical_rotmats(prototypes, keep_tilt=keep), tilt_weight).argmin(1)


class MissingPrototypesError(ValueError):
    """PM-Net is about to train on placeholder prototypes (no prototype file, no checkpoint holding them)."""


def require_built_prototypes(pose_rot6d: Tensor, counts: Tensor, prototype_file) -> None:
    """Raises :class:`MissingPrototypesError` when the memory holds no built prototypes.

    Training from placeholders (``prototype_file=None``: K identity poses) would regress every sample from
    the same start, i.e. train HMR with a K-way selector that cannot learn anything. The memory counts as
    placeholders when all its K > 1 poses are equal, or when its only pose has no member (``counts`` 0).

    Args:
        pose_rot6d (Tensor): The memory's poses, shape (K, J, 6).
        counts (Tensor): Members per prototype, shape (K,).
        prototype_file (str | None): The head's ``prototype_file``, for the message.
    """
    with torch.no_grad():
        same = bool((pose_rot6d - pose_rot6d[:1]).abs().amax() == 0)
        empty = bool(counts.sum() == 0)
    if same and (len(pose_rot6d) > 1 or empty):
        raise MissingPrototypesError(
            f'PrototypeMemoryHead: training with prototype_file={prototype_file!r} and all '
            f'{len(pose_rot6d)} prototypes the same pose: the memory holds placeholders, not prototypes of '
            'the training poses. Build them with tools/build_prototypes.py and set '
            'model.head.prototype_file to the file (or load_from a PM-Net checkpoint that holds them).')
