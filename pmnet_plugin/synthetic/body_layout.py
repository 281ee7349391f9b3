"""Skeleton and volumetric primitives of the procedural SMPL-format body (see :mod:`.synthetic`).

Coordinates follow SMPL's template: metres, y up, the body faces +z, its left side is +x, rest T-pose.
The joint positions approximate the official neutral SMPL template (pelvis about 0.22 m below the origin,
1.73 m tall). Each primitive is owned by the SMPL joint whose rotation moves it (used for skinning weights).
"""
from typing import List, Tuple

import numpy as np

# Left-side (+x) joints; right-side ones are mirrored. Values approximate the neutral SMPL template.
_LEFT_JOINTS = {
    'left_hip': (0.070, -0.310, 0.020),
    'left_knee': (0.105, -0.690, 0.015),
    'left_ankle': (0.090, -1.085, -0.030),
    'left_foot': (0.120, -1.140, 0.095),
    'left_collar': (0.075, 0.205, -0.005),
    'left_shoulder': (0.170, 0.225, -0.020),
    'left_elbow': (0.435, 0.212, -0.040),
    'left_wrist': (0.690, 0.220, -0.050),
    'left_hand': (0.775, 0.212, -0.060),
}
_CENTRE_JOINTS = {
    'pelvis': (0.0, -0.220, 0.025),
    'spine1': (0.0, -0.110, 0.000),
    'spine2': (0.0, 0.020, 0.005),
    'spine3': (0.0, 0.075, 0.030),
    'neck': (0.0, 0.290, -0.015),
    'head': (0.0, 0.380, 0.040),
}


def rest_joints(joint_names: List[str]) -> np.ndarray:
    """Rest-pose joint positions in SMPL order.

    Args:
        joint_names (list[str]): The 24 SMPL joint names.

    Returns:
        np.ndarray: Shape (24, 3), float64.
    """
    out = []
    for name in joint_names:
        if name in _CENTRE_JOINTS:
            out.append(_CENTRE_JOINTS[name])
        elif name.startswith('left_'):
            out.append(_LEFT_JOINTS[name])
        else:
            x, y, z = _LEFT_JOINTS['left_' + name[len('right_'):]]
            out.append((-x, y, z))
    return np.asarray(out, dtype=np.float64)


class Primitive:
    """A round cone (capsule with linearly varying radius) or an axis-aligned ellipsoid.

    Args:
        kind (str): ``'cone'`` or ``'ellipsoid'``.
        a (tuple): Cone start point, or ellipsoid centre.
        b (tuple): Cone end point, or ellipsoid radii.
        radii (tuple): Cone radii at ``a`` and ``b`` (unused for ellipsoids).
        joint (str): SMPL joint moving this part.
        blend (float): Smooth-union radius with the parts added before it (metres). Defaults to 0.02.
    """

    def __init__(self, kind: str, a, b, radii=(0.0, 0.0), joint: str = 'pelvis', blend: float = 0.02) -> None:
        self.kind = kind
        self.blend = blend
        self.a = np.asarray(a, dtype=np.float64)
        self.b = np.asarray(b, dtype=np.float64)
        self.radii = np.asarray(radii, dtype=np.float64)
        self.joint = joint

    def mirrored(self) -> 'Primitive':
        """The same part on the right side (x -> -x, left_* -> right_*)."""
        flip = np.array([-1.0, 1.0, 1.0])
        b = self.b * flip if self.kind == 'cone' else self.b
        joint = self.joint.replace('left_', 'right_')
        return Primitive(self.kind, self.a * flip, b, self.radii, joint, self.blend)

    def bounds(self, margin: float) -> Tuple[np.ndarray, np.ndarray]:
        """Axis-aligned box (lo, hi) containing the part plus ``margin``."""
        if self.kind == 'cone':
            r = self.radii.max() + margin
            return np.minimum(self.a, self.b) - r, np.maximum(self.a, self.b) + r
        return self.a - self.b - margin, self.a + self.b + margin

    def sdf(self, p: np.ndarray) -> np.ndarray:
        """Approximate signed distance (negative inside), shape (...,) for points (..., 3)."""
        if self.kind == 'cone':
            ba = self.b - self.a
            pa = p - self.a
            t = np.clip((pa @ ba) / (ba @ ba), 0.0, 1.0)
            dist = np.linalg.norm(pa - t[..., None] * ba, axis=-1)
            return dist - (self.radii[0] + t * (self.radii[1] - self.radii[0]))
        # Ellipsoid bound by Inigo Quilez: k0 (k0 - 1) / k1.
        q = p - self.a
        k0 = np.linalg.norm(q / self.b, axis=-1)
        k1 = np.maximum(np.linalg.norm(q / (self.b * self.b), axis=-1), 1e-9)
        return k0 * (k0 - 1.0) / k1

    def closest_axis_point(self, p: np.ndarray) -> np.ndarray:
        """Closest point on the part's axis (cone segment) or its centre (ellipsoid), shape (..., 3)."""
        if self.kind == 'cone':
            ba = self.b - self.a
            t = np.clip(((p - self.a) @ ba) / (ba @ ba), 0.0, 1.0)
            return self.a + t[..., None] * ba
        return np.broadcast_to(self.a, p.shape)


def body_primitives(joints: np.ndarray, joint_names: List[str]) -> List[Primitive]:
    """The parts of the body, arranged around the rest skeleton.

    Args:
        joints (np.ndarray): Rest joints, shape (24, 3).
        joint_names (list[str]): The 24 SMPL joint names.

    Returns:
        list[Primitive]: Parts on both sides (left ones mirrored to the right).
    """
    j = {name: joints[i] for i, name in enumerate(joint_names)}
    c = Primitive
    torso = 0.08  # large blend: one smooth trunk instead of stacked ellipsoids
    centre = [
        c('ellipsoid', (0.0, -0.240, 0.010), (0.160, 0.125, 0.108), joint='pelvis', blend=torso),
        c('ellipsoid', (0.0, -0.090, 0.018), (0.138, 0.150, 0.098), joint='spine1', blend=torso),
        c('ellipsoid', (0.0, 0.050, 0.022), (0.148, 0.150, 0.104), joint='spine2', blend=torso),
        c('ellipsoid', (0.0, 0.170, 0.005), (0.165, 0.110, 0.098), joint='spine3', blend=torso),
        c('cone', (0.0, 0.240, -0.010), (0.0, 0.400, 0.010), (0.052, 0.048), joint='neck'),
        c('ellipsoid', (0.0, 0.460, 0.020), (0.077, 0.105, 0.095), joint='head'),
        c('ellipsoid', (0.0, 0.405, 0.055), (0.050, 0.040, 0.050), joint='head'),   # jaw
        c('ellipsoid', (0.0, 0.452, 0.112), (0.014, 0.024, 0.022), joint='head'),   # nose
    ]
    left = [
        c('cone', (0.020, 0.215, -0.010), j['left_shoulder'], (0.060, 0.056), joint='left_collar'),
        c('cone', j['left_shoulder'], j['left_elbow'], (0.052, 0.039), joint='left_shoulder'),
        c('cone', j['left_elbow'], j['left_wrist'], (0.038, 0.027), joint='left_elbow'),
        c('ellipsoid', (0.742, 0.216, -0.053), (0.056, 0.019, 0.041), joint='left_wrist'),   # palm
        c('ellipsoid', (0.838, 0.210, -0.060), (0.062, 0.014, 0.037), joint='left_hand'),    # fingers
        c('cone', (0.725, 0.210, -0.015), (0.775, 0.205, 0.022), (0.014, 0.011), joint='left_wrist'),  # thumb
        c('cone', j['left_hip'], j['left_knee'], (0.088, 0.056), joint='left_hip'),
        c('cone', j['left_knee'], j['left_ankle'], (0.054, 0.036), joint='left_knee'),
        c('cone', (0.090, -1.118, -0.060), (0.118, -1.128, 0.085), (0.036, 0.034), joint='left_ankle'),
        c('cone', (0.120, -1.133, 0.095), (0.126, -1.138, 0.150), (0.030, 0.026), joint='left_foot'),
        c('ellipsoid', (0.079, 0.455, 0.012), (0.014, 0.030, 0.020), joint='head'),   # ear
    ]
    return centre + left + [p.mirrored() for p in left]


def face_landmarks() -> np.ndarray:
    """Surface points for COCO nose, left eye, right eye, left ear, right ear, shape (5, 3)."""
    return np.array([
        (0.0, 0.452, 0.140),
        (0.032, 0.478, 0.110),
        (-0.032, 0.478, 0.110),
        (0.095, 0.455, 0.012),
        (-0.095, 0.455, 0.012),
    ])


def h36m_targets(joints: np.ndarray, joint_names: List[str]) -> np.ndarray:
    """Human3.6M-like joints in SPIN's 17-joint order (see ``constants.H36M_JOINT_NAMES``), shape (17, 3).

    H36M's hips sit lower and wider than SMPL's, its pelvis is the hip midpoint, and it has a spine point,
    a jaw/nose point and a head-top point that SMPL lacks.
    """
    j = {name: joints[i] for i, name in enumerate(joint_names)}
    hip_off = np.array([0.015, -0.030, 0.0])
    lhip, rhip = j['left_hip'] + hip_off, j['right_hip'] + hip_off * np.array([-1.0, 1.0, 1.0])
    return np.stack([
        0.5 * (lhip + rhip), lhip, j['left_knee'], j['left_ankle'], rhip, j['right_knee'], j['right_ankle'],
        0.5 * (j['spine1'] + j['spine3']), j['neck'] - np.array([0.0, 0.02, 0.0]),
        np.array([0.0, 0.430, 0.075]), np.array([0.0, 0.540, 0.020]),
        j['left_shoulder'], j['left_elbow'], j['left_wrist'], j['right_shoulder'], j['right_elbow'],
        j['right_wrist']
    ])


def extra_targets(joints: np.ndarray, joint_names: List[str]) -> np.ndarray:
    """Joints of SPIN's ``J_regressor_extra`` order (``keypoint_conventions.EXTRA_KEYPOINTS``), (9, 3).

    LSP hips and the MPII pelvis coincide with the H36M hips and pelvis of :func:`h36m_targets`, the H36M
    spine, jaw and head are H36M joints 7, 9 and 10 (as SPIN stores them); the LSP neck sits at the top of
    the neck, the LSP head top at the crown, the MPII thorax between the shoulders.
    """
    h36m = h36m_targets(joints, joint_names)
    j = {name: joints[i] for i, name in enumerate(joint_names)}
    thorax = 0.5 * (j['left_shoulder'] + j['right_shoulder']) + np.array([0.0, 0.02, 0.0])
    return np.stack([
        h36m[4], h36m[1], j['neck'] + np.array([0.0, 0.05, 0.005]), np.array([0.0, 0.545, 0.020]),
        h36m[0], thorax, h36m[7], h36m[9], h36m[10]
    ])


def vertex_landmarks() -> np.ndarray:
    """Surface points of ``keypoint_conventions.VERTEX_KEYPOINTS`` (face, feet, finger tips), (21, 3)."""
    nose, leye, reye, lear, rear = face_landmarks()
    left_foot = [(0.105, -1.140, 0.175), (0.150, -1.140, 0.150), (0.090, -1.130, -0.100)]
    left_tips = [(0.785, 0.205, 0.033), (0.898, 0.210, -0.035), (0.900, 0.210, -0.055),
                 (0.895, 0.210, -0.075), (0.885, 0.210, -0.090)]
    mirror = np.array([-1.0, 1.0, 1.0])
    right_foot = [np.asarray(p) * mirror for p in left_foot]
    right_tips = [np.asarray(p) * mirror for p in left_tips]
    return np.asarray([nose, reye, leye, rear, lear, *left_foot, *right_foot, *left_tips, *right_tips],
                      dtype=np.float64)


# Shape offsets (in the procedural body's betas) of the gendered stand-in bodies: taller with broader
# shoulders (male), shorter with wider hips (female). Our choice; only their difference matters offline.
GENDER_BETAS = {
    'male': np.array([1.0, 0.4, 0.0, 1.0, 0.0, -0.5, 0.0, 0.0, 0.0, 0.0]),
    'female': np.array([-1.0, -0.4, 0.0, -0.8, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0]),
}
