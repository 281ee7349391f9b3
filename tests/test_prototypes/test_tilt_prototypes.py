"""Prototypes that keep the body's tilt from the vertical (``tilt_weight > 0``)."""
import math

import numpy as np
import torch

from pmnet_plugin.prototypes import build_prototypes
from pmnet_plugin.prototypes.geometry import (body_chordal_distance, canonical_rotmats,
                                              heading_free_orient, nearest_prototype)
from pmnet_plugin.utils.rotation import axis_angle_to_matrix, matrix_to_axis_angle, rot6d_to_matrix

FLIP = torch.diag(torch.tensor([1.0, -1.0, -1.0], dtype=torch.float64))  # upright, facing the camera


def _rot(axis, angle):
    return axis_angle_to_matrix(torch.tensor(axis, dtype=torch.float64) * angle)


def _camera_orient(tilt, yaw):
    """Camera-frame orient of a body turned by ``yaw`` about the vertical after the ``tilt`` (3, 3)."""
    return FLIP @ _rot([0.0, 1.0, 0.0], yaw) @ tilt


def test_heading_free_orient_drops_the_turn_about_the_vertical_and_keeps_the_tilt():
    lean = _rot([1.0, 0.0, 0.0], 1.1) @ _rot([0.0, 1.0, 0.0], 0.4)  # leaning 63 deg, plus a body twist
    orients = torch.stack([_camera_orient(lean, yaw) for yaw in (0.0, 1.3, -2.8, 3.1)])
    free = heading_free_orient(orients)
    assert torch.allclose(free, free[:1].expand_as(free), atol=1e-6)  # same for every heading
    up = torch.tensor([0.0, -1.0, 0.0], dtype=torch.float64)  # camera y is down
    tilt_in = torch.arccos((orients[:, :, 1] @ up).clamp(-1, 1))  # angle of the body's y axis from up
    tilt_out = torch.arccos((free[:, :, 1] @ up).clamp(-1, 1))
    assert torch.allclose(tilt_in, tilt_out, atol=1e-6)
    assert abs(float(tilt_out[0]) - 1.1) < 1e-6
    upright = torch.stack([_camera_orient(torch.eye(3, dtype=torch.float64), yaw) for yaw in (0.0, 2.0)])
    assert torch.allclose(heading_free_orient(upright), FLIP.expand(2, 3, 3), atol=1e-6)
    # a different tilt stays different
    other = heading_free_orient(_camera_orient(_rot([1.0, 0.0, 0.0], 2.6), 0.7)[None])
    assert (other - free[:1]).abs().max() > 0.5


def _standing_and_lying(n=20, seed=0):
    """One articulation, standing or lying on the back, at random headings: (2n, 72) camera-frame poses."""
    rng = np.random.default_rng(seed)
    body = np.zeros(69)
    body[3 * 15 + 2], body[3 * 16 + 2] = -1.0, 1.0
    poses = []
    for tilt in (torch.eye(3, dtype=torch.float64), _rot([1.0, 0.0, 0.0], -math.pi / 2)):
        for _ in range(n):
            orient = matrix_to_axis_angle(_camera_orient(tilt, rng.uniform(-math.pi, math.pi))).numpy()
            poses.append(np.r_[orient, body + rng.normal(0, 0.02, 69)])
    return np.asarray(poses, np.float32)


def test_tilt_prototypes_separate_standing_from_lying_and_store_the_tilt():
    poses = _standing_and_lying()
    plain = build_prototypes(poses, k=2, seed=0)  # articulation only: the split is noise
    tilted = build_prototypes(poses, k=2, seed=0, tilt_weight=5.0)
    assert float(tilted['tilt_weight']) == 5.0 and float(plain['tilt_weight']) == 0.0
    assert sorted(tilted['counts'].tolist()) == [20, 20]
    roots = rot6d_to_matrix(torch.as_tensor(tilted['pose_rot6d'], dtype=torch.float64))[:, 0]
    free = canonical_rotmats(torch.as_tensor(poses, dtype=torch.float64), keep_tilt=True)[:, 0]
    for group in (free[:20], free[20:]):  # each group's heading-free orient has a prototype on top of it
        err = (roots[None] - group[:, None]).flatten(2).norm(dim=-1).min(1).values
        assert err.max() < 0.05
    plain_roots = rot6d_to_matrix(torch.as_tensor(plain['pose_rot6d'], dtype=torch.float64))[:, 0]
    assert torch.allclose(plain_roots, torch.eye(3, dtype=torch.float64).expand(2, 3, 3), atol=1e-6)


def test_tilt_distance_counts_the_tilt_with_its_weight():
    poses = torch.as_tensor(_standing_and_lying(n=1), dtype=torch.float64)  # one standing, one lying
    can = canonical_rotmats(poses, keep_tilt=True)
    d0 = body_chordal_distance(can[:1], can[1:], 0.0).item()
    d5 = body_chordal_distance(can[:1], can[1:], 5.0).item()
    tilt = ((can[0, 0] - can[1, 0]) ** 2).sum().item()  # 90 deg apart: 2 * (3 - 1) = 4
    assert abs(tilt - 4.0) < 1e-6
    assert abs(d5 - d0 - 5.0 * tilt) < 1e-6


def test_nearest_prototype_uses_the_tilt_only_when_the_file_has_it():
    poses = torch.as_tensor(_standing_and_lying(), dtype=torch.float64)
    protos = build_prototypes(poses.numpy(), k=2, seed=0, tilt_weight=5.0)
    rot = rot6d_to_matrix(torch.as_tensor(protos['pose_rot6d'], dtype=torch.float64))
    idx = nearest_prototype(poses, rot, 5.0)
    assert len(set(idx[:20].tolist())) == 1 and len(set(idx[20:].tolist())) == 1 and idx[0] != idx[-1]
    # articulation only: standing and lying bodies of one articulation are not told apart
    plain = nearest_prototype(poses, rot, 0.0)
    assert not torch.equal(plain, idx)
