"""Offline pose prototypes: (balanced) weighted k-means and Markley-averaged cluster poses.

:func:`build_prototypes` returns the arrays of a prototype file (format in :mod:`pmnet_plugin.prototypes.io`).
"""
from typing import Dict, Optional, Tuple

import numpy as np
import torch
from scipy.spatial.distance import cdist

from pmnet_plugin.prototypes.geometry import canonical_rotmats, pose_features
from pmnet_plugin.utils.rotation import (average_quaternions, matrix_to_quaternion, matrix_to_rot6d,
                                         quaternion_to_matrix, rot6d_to_matrix)

__all__ = ['kmeans', 'balanced_sample_weights', 'build_prototypes', 'data_mean_params']

NUM_JOINTS = 24


def _kmeans_once(x: np.ndarray, k: int, w: np.ndarray, rng: np.random.Generator,
                 num_iters: int, tol: float) -> Tuple[np.ndarray, np.ndarray, float]:
    n = x.shape[0]
    # weighted k-means++ seeding (Arthur & Vassilvitskii 2007)
    centers = [x[rng.choice(n, p=w / w.sum())]]
    d2 = cdist(x, centers[0][None], 'sqeuclidean')[:, 0]
    for _ in range(1, k):
        p = w * d2
        idx = rng.choice(n, p=p / p.sum()) if p.sum() > 0 else rng.integers(n)
        centers.append(x[idx])
        d2 = np.minimum(d2, cdist(x, x[idx][None], 'sqeuclidean')[:, 0])
    c = np.stack(centers)
    prev = np.inf
    for _ in range(num_iters):
        dist = cdist(x, c, 'sqeuclidean')
        labels = dist.argmin(1)
        mind = dist[np.arange(n), labels]
        inertia = float((w * mind).sum())
        for j in range(k):
            m = labels == j
            if not m.any() or w[m].sum() <= 0:  # empty cluster: re-seed at the worst-fit point
                far = int((w * mind).argmax())
                c[j], labels[far], mind[far] = x[far], j, 0.0
                continue
            c[j] = (w[m, None] * x[m]).sum(0) / w[m].sum()
        if prev - inertia <= tol * max(prev, 1e-12):
            break
        prev = inertia
    dist = cdist(x, c, 'sqeuclidean')
    labels = dist.argmin(1)
    return c, labels, float((w * dist[np.arange(n), labels]).sum())


def kmeans(x: np.ndarray, k: int, weights: Optional[np.ndarray] = None, num_iters: int = 100,
           num_init: int = 3, seed: int = 0, tol: float = 1e-6) -> Tuple[np.ndarray, np.ndarray]:
    """Weighted k-means (Lloyd) with k-means++ seeding; best of ``num_init`` restarts.

    Args:
        x (np.ndarray): Features, shape (N, D).
        k (int): Clusters K (<= N).
        weights (np.ndarray, optional): Non-negative sample weights (N,). Defaults to uniform.
        num_iters (int): Max Lloyd iterations per restart.
        num_init (int): Restarts; the lowest weighted inertia wins.
        seed (int): RNG seed (deterministic result for a fixed seed).
        tol (float): Relative inertia improvement below which Lloyd stops.

    Returns:
        tuple: centres (K, D) float64 and labels (N,) int64.
    """
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    if not 1 <= k <= n:
        raise ValueError(f'kmeans: need 1 <= k <= N, got k={k}, N={n}')
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    rng = np.random.default_rng(seed)
    best = None
    for _ in range(max(1, num_init)):
        res = _kmeans_once(x, k, w, rng, num_iters, tol)
        if best is None or res[2] < best[2]:
            best = res
    return best[0], best[1].astype(np.int64)


def balanced_sample_weights(x: np.ndarray, num_fine: int, alpha: float = 1.0,
                            seed: int = 0) -> np.ndarray:
    """Inverse-density sample weights from a fine k-means partition.

    A sample in a fine cluster of size n gets weight ``n^-alpha`` (normalised to mean 1): with
    ``alpha=1`` every fine region of pose space carries equal total mass, so dense common poses stop
    dominating the coarse k-means and rare regions keep their own prototypes (our choice; the paper
    does not say how it treats density).

    Args:
        x (np.ndarray): Features, shape (N, D).
        num_fine (int): Fine clusters used as the density estimate.
        alpha (float): Strength; 0 = uniform, 1 = fully balanced.
        seed (int): RNG seed.

    Returns:
        np.ndarray: Weights, shape (N,), mean 1.
    """
    _, fine = kmeans(x, min(num_fine, x.shape[0]), num_iters=30, num_init=1, seed=seed)
    sizes = np.bincount(fine, minlength=fine.max() + 1).astype(np.float64)
    w = sizes[fine]**(-alpha)
    return w / w.mean()


def build_prototypes(poses: np.ndarray, k: int = 32, balanced: bool = False, seed: int = 0,
                     betas: Optional[np.ndarray] = None, is_rare: Optional[np.ndarray] = None,
                     cam: Optional[np.ndarray] = None, balance_alpha: float = 1.0,
                     num_fine: Optional[int] = None, num_vertices: int = 6890,
                     source: str = '', verbose: bool = False,
                     tilt_weight: float = 0.0) -> Dict[str, np.ndarray]:
    """Cluster SMPL poses into K prototypes.

    Poses are canonicalised (global orient = identity, or its heading-free tilt when ``tilt_weight > 0``;
    :mod:`pmnet_plugin.prototypes.geometry`), embedded as rotation matrices (continuous, no axis-angle
    wrap-around), clustered with (optionally balanced) k-means, and each prototype joint is the weighted
    Markley quaternion average of its members (stays on SO(3)).

    Args:
        poses (np.ndarray): Axis-angle poses, shape (N, 72).
        k (int): Number of prototypes K. Defaults to 32.
        balanced (bool): Use :func:`balanced_sample_weights`. Defaults to False.
        seed (int): RNG seed. Defaults to 0.
        betas (np.ndarray, optional): Shapes (N, 10) averaged per cluster.
        is_rare (np.ndarray, optional): Rarity flags (N,) for the report only (not used to cluster).
        cam (np.ndarray, optional): Camera (3,) stored for every prototype. Defaults to (0.9, 0, 0).
        balance_alpha (float): See :func:`balanced_sample_weights`.
        num_fine (int, optional): Fine clusters for balancing. Defaults to ``min(N // 4, 8 K)``.
        num_vertices (int): Body-model vertex count recorded in the metadata.
        source (str): Source description recorded in the metadata.
        verbose (bool): Print cluster sizes (and rare fractions).
        tilt_weight (float): 0 = articulation only; > 0 = the camera-frame global orient's tilt from the
            vertical is clustered too, weighted as this many body joints, and stored as joint 0. Defaults to 0.

    Returns:
        dict: The prototype-file arrays described in :mod:`pmnet_plugin.prototypes.io`.
    """
    poses = np.asarray(poses, dtype=np.float32).reshape(len(poses), -1)
    if poses.shape[1] != NUM_JOINTS * 3:
        raise ValueError(f'build_prototypes: poses must be (N, 72) axis-angle, got {poses.shape}')
    rot = canonical_rotmats(torch.from_numpy(poses).double(), keep_tilt=tilt_weight > 0)
    feats = pose_features(rot, tilt_weight).numpy()
    n = len(poses)
    weights = np.ones(n)
    if balanced:
        nf = num_fine or max(k, min(n // 4, 8 * k))
        weights = balanced_sample_weights(feats, nf, balance_alpha, seed)
    _, labels = kmeans(feats, k, weights, seed=seed)
    quats = matrix_to_quaternion(rot)  # (N, 24, 4)
    proto_rot = torch.eye(3, dtype=torch.float64).repeat(k, NUM_JOINTS, 1, 1)
    proto_betas = np.zeros((k, 10), np.float32)
    counts = np.bincount(labels, minlength=k).astype(np.int64)
    mass = np.zeros(k, np.float32)
    rare_fraction = np.full(k, np.nan, np.float32)
    for j in range(k):
        m = labels == j
        if not m.any():
            continue
        wj = torch.from_numpy(weights[m])
        q = quats[torch.from_numpy(m)].transpose(0, 1)  # (24, n_j, 4)
        avg = average_quaternions(q, wj[None].expand(NUM_JOINTS, -1))
        proto_rot[j] = quaternion_to_matrix(avg)
        if tilt_weight <= 0:
            proto_rot[j, 0] = torch.eye(3, dtype=torch.float64)
        mass[j] = weights[m].sum()
        if betas is not None:
            proto_betas[j] = np.average(np.asarray(betas)[m][:, :10], axis=0, weights=weights[m])
        if is_rare is not None:
            rare_fraction[j] = float(np.asarray(is_rare)[m].astype(bool).mean())
    cam = np.asarray((0.9, 0.0, 0.0) if cam is None else cam, np.float32).reshape(3)
    out = dict(
        pose_rot6d=matrix_to_rot6d(proto_rot).float().numpy(),
        betas=proto_betas,
        cam=np.tile(cam[None], (k, 1)),
        counts=counts,
        weight_mass=mass,
        K=np.int64(k),
        num_joints=np.int64(NUM_JOINTS),
        num_vertices=np.int64(num_vertices),
        method=np.str_('balanced_kmeans' if balanced else 'kmeans'),
        seed=np.int64(seed),
        num_samples=np.int64(n),
        source=np.str_(source),
        tilt_weight=np.float32(tilt_weight))
    if is_rare is not None:
        out['rare_fraction'] = rare_fraction
    if verbose:
        print(f'{out["method"]}: N={n} K={k} sizes (sorted) '
              f'{sorted(counts.tolist(), reverse=True)}')
        if is_rare is not None:
            print(f'overall rare fraction {np.asarray(is_rare).astype(bool).mean():.3f}')
            for j in np.argsort(-rare_fraction):
                print(f'  proto {j:3d}: n={counts[j]:6d} rare={rare_fraction[j]:.2f}')
    return out


def data_mean_params(poses: np.ndarray, global_orient: np.ndarray, cam: np.ndarray) -> Dict[str, np.ndarray]:
    """SPIN-format mean parameters whose body pose is the mean of ``poses``.

    SPIN's ``smpl_mean_params.npz`` holds a mean pose computed from training data; this computes ours the
    same way from any pose set (the one-cluster case of :func:`build_prototypes`: per-joint Markley
    quaternion average of the canonicalised poses), so an HMR baseline trained on that data starts from
    its real mean rather than from the rest T-pose.

    Args:
        poses (np.ndarray): Axis-angle poses, shape (N, 72).
        global_orient (np.ndarray): Rotation matrix (3, 3) of the mean's global orientation.
        cam (np.ndarray): Mean weak-perspective camera, shape (3,).

    Returns:
        dict: ``pose`` (144,) = 24 x 6D, ``shape`` (10,) zeros, ``cam`` (3,) — the file's arrays.
    """
    rot = torch.from_numpy(build_prototypes(poses, k=1)['pose_rot6d']).double()
    rot = rot6d_to_matrix(rot)[0]  # (24, 3, 3)
    rot[0] = torch.as_tensor(global_orient, dtype=torch.float64)
    return dict(pose=matrix_to_rot6d(rot).reshape(-1).float().numpy(), shape=np.zeros(10, np.float32),
                cam=np.asarray(cam, np.float32).reshape(3))
