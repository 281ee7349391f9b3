"""Sampling SMPL parameters from the mocap pose library for the offline long-tail dataset.

Train and test are split by time segments inside every clip (every clip in both splits, no frame in
both); a split's rare share is met exactly by sampling each group on its own (``docs/data.md``).
"""
from typing import Dict, Optional, Tuple

import numpy as np
from scipy.spatial.transform import Rotation


def split_masks(clip: np.ndarray,
                frame: np.ndarray,
                test_fraction: float = 0.25,
                segment_len: int = 12,
                gap: int = 2) -> Tuple[np.ndarray, np.ndarray]:
    """Time-segment train/test masks over a pose library (``docs/data.md``).

    Args:
        clip (np.ndarray): (N,) clip name per library frame.
        frame (np.ndarray): (N,) frame index inside its clip.
        test_fraction (float): share of every clip's frames in test segments. Defaults to 0.25.
        segment_len (int): target length of one test segment, frames. Defaults to 12.
        gap (int): frames dropped on each side of a test segment. Defaults to 2.

    Returns:
        tuple: ``train`` (N,) bool and ``test`` (N,) bool, disjoint.
    """
    clip = np.asarray(clip).astype(str)
    frame = np.asarray(frame)
    train = np.zeros(len(clip), bool)
    test = np.zeros(len(clip), bool)
    for name in np.unique(clip):
        sel = np.flatnonzero(clip == name)
        num = int(frame[sel].max()) + 1
        n_seg = max(1, int(round(num * test_fraction / segment_len)))
        seg = max(1, int(round(num * test_fraction / n_seg)))
        is_test = np.zeros(num, bool)
        near = np.zeros(num, bool)
        for k in range(n_seg):
            start = int(round((k + 0.5) * num / n_seg - seg / 2))
            is_test[max(start, 0):start + seg] = True
            near[max(start - gap, 0):start + seg + gap] = True
        test[sel] = is_test[frame[sel]]
        train[sel] = ~near[frame[sel]]
    return train, test


def _draw(pool: np.ndarray, num: int, rng: np.random.Generator) -> np.ndarray:
    """``num`` draws from ``pool``: shuffled copies of the whole pool, so repeats come last."""
    if num == 0:
        return np.zeros(0, np.int64)
    if len(pool) == 0:
        raise ValueError('no library frames to sample from (check --clips and the split)')
    reps = -(-num // len(pool))
    return np.concatenate([rng.permutation(pool) for _ in range(reps)])[:num]


def sample_indices(is_rare: np.ndarray,
                   candidates: np.ndarray,
                   num: int,
                   rare_fraction: float,
                   rng: np.random.Generator) -> np.ndarray:
    """Library indices for one split with exactly ``round(num * rare_fraction)`` rare samples.

    Args:
        is_rare (np.ndarray): (N,) bool per library frame.
        candidates (np.ndarray): (N,) bool, frames allowed in this split.
        num (int): samples to draw.
        rare_fraction (float): wanted share of rare samples, in [0, 1].
        rng (np.random.Generator): random generator.

    Returns:
        np.ndarray: (num,) int64 library indices, shuffled.
    """
    if not 0.0 <= rare_fraction <= 1.0:
        raise ValueError(f'rare_fraction must be in [0, 1], got {rare_fraction}')
    is_rare = np.asarray(is_rare, bool)
    num_rare = int(round(num * rare_fraction))
    rare = _draw(np.flatnonzero(candidates & is_rare), num_rare, rng)
    common = _draw(np.flatnonzero(candidates & ~is_rare), num - num_rare, rng)
    return rng.permutation(np.concatenate([rare, common])).astype(np.int64)


def canonical_to_camera(global_orient: np.ndarray, yaw: np.ndarray) -> np.ndarray:
    """Turn canonical (Y-up) root orientations by ``yaw`` about the vertical and express them in the camera
    frame (y down, z forward): ``R_cam = R_x(pi) R_y(yaw) R``; ``yaw = 0`` faces the camera.

    Args:
        global_orient (np.ndarray): (N, 3) axis-angle in SMPL's canonical frame.
        yaw (np.ndarray): (N,) radians.

    Returns:
        np.ndarray: (N, 3) axis-angle in the camera frame.
    """
    yaw = np.asarray(yaw, np.float64).reshape(-1, 1)
    turn = Rotation.from_rotvec([np.pi, 0.0, 0.0]) * Rotation.from_rotvec(yaw * [0.0, 1.0, 0.0])
    return (turn * Rotation.from_rotvec(np.asarray(global_orient, np.float64))).as_rotvec()


def perturb_body_pose(body_pose: np.ndarray, noise_deg: float, rng: np.random.Generator) -> np.ndarray:
    """Compose every body joint with a small random rotation (axis uniform, angle ~ N(0, noise_deg)).

    Args:
        body_pose (np.ndarray): (N, 23, 3) axis-angle.
        noise_deg (float): standard deviation of the noise angle, degrees.
        rng (np.random.Generator): random generator.

    Returns:
        np.ndarray: (N, 23, 3) axis-angle.
    """
    shape = np.asarray(body_pose).shape
    if noise_deg <= 0:
        return np.asarray(body_pose, np.float64).copy()
    noise = rng.normal(0.0, np.deg2rad(noise_deg) / np.sqrt(3.0), size=shape).reshape(-1, 3)
    out = Rotation.from_rotvec(noise) * Rotation.from_rotvec(np.asarray(body_pose).reshape(-1, 3))
    return out.as_rotvec().reshape(shape)


def sample_smpl_params(library: Dict[str, np.ndarray],
                       indices: np.ndarray,
                       rng: np.random.Generator,
                       noise_deg: float = 3.0,
                       yaw_range: Tuple[float, float] = (-np.pi, np.pi),
                       betas_clip: float = 2.0,
                       num_betas: int = 10) -> Dict[str, np.ndarray]:
    """SMPL parameters (camera-frame orientation, no translation yet) for library frames.

    Args:
        library (dict): pose library (``poses`` (N, 72), ``clip``, ``frame``, ``is_rare``).
        indices (np.ndarray): (M,) library indices.
        rng (np.random.Generator): random generator.
        noise_deg (float): per-joint pose noise, degrees. Defaults to 3.
        yaw_range (Tuple[float, float]): uniform camera yaw range, radians. Defaults to a full turn.
        betas_clip (float): betas ~ N(0, 1) clipped to +-betas_clip. Defaults to 2.
        num_betas (int): Defaults to 10.

    Returns:
        dict: ``global_orient`` (M, 3) camera frame, ``body_pose`` (M, 23, 3), ``betas`` (M, 10), ``yaw``
        (M,), and ``clip`` / ``frame`` / ``is_rare`` (M,) copied from the library.
    """
    idx = np.asarray(indices, np.int64)
    poses = np.asarray(library['poses'], np.float64)[idx]
    yaw = rng.uniform(yaw_range[0], yaw_range[1], size=len(idx))
    return dict(
        global_orient=canonical_to_camera(poses[:, :3], yaw).astype(np.float32),
        body_pose=perturb_body_pose(poses[:, 3:].reshape(-1, 23, 3), noise_deg, rng).astype(np.float32),
        betas=np.clip(rng.normal(size=(len(idx), num_betas)), -betas_clip, betas_clip).astype(np.float32),
        yaw=yaw.astype(np.float32),
        clip=np.asarray(library['clip']).astype(str)[idx],
        frame=np.asarray(library['frame'])[idx].astype(np.int64),
        is_rare=np.asarray(library['is_rare'], bool)[idx])


def place_in_crop(points: np.ndarray,
                  rng: Optional[np.random.Generator],
                  img_size: int = 224,
                  focal: float = 5000.0,
                  fill_range: Tuple[float, float] = (0.6, 0.85),
                  max_shift: float = 0.1) -> np.ndarray:
    """Camera translation putting a body in the crop, consistent with the weak-perspective camera.

    The body's larger 2D extent fills ``fill`` ~ U(fill_range) of the crop (``s = 2 fill / extent``), its
    centre jittered by up to ``max_shift``; ``t = (j / s - centre, 2 f / (W s))`` (``docs/design.md``).
    With ``rng`` None: ``fill = mean(fill_range)`` and no jitter.

    Args:
        points (np.ndarray): (P, 3) camera-frame vertices (or joints) with zero translation.
        rng (np.random.Generator, optional): random generator.
        img_size (int): crop side W = H, px. Defaults to 224.
        focal (float): focal length, px. Defaults to 5000.
        fill_range (Tuple[float, float]): fraction of the crop the body spans. Defaults to (0.6, 0.85).
        max_shift (float): largest centre jitter in normalised crop units. Defaults to 0.1.

    Returns:
        np.ndarray: (3,) float32 translation ``t`` (SMPL ``transl``).
    """
    xy = np.asarray(points)[:, :2]
    lo, hi = xy.min(0), xy.max(0)
    centre = (lo + hi) / 2
    if rng is None:
        fill, shift = float(np.mean(fill_range)), np.zeros(2)
    else:
        fill = float(rng.uniform(*fill_range))
        shift = rng.uniform(-1.0, 1.0, size=2) * min(max_shift, max(1.0 - fill, 0.0))
    scale = 2.0 * fill / float((hi - lo).max())
    txy = shift / scale - centre
    return np.array([txy[0], txy[1], 2.0 * focal / (img_size * scale)], np.float32)
