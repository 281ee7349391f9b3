"""Pure numpy functions for mesh-recovery evaluation and pose-rarity analysis.

Everything here works on plain arrays (no body model, no tensors), so it can be unit-tested against hand
computations and against :func:`mmpose.evaluation.functional.keypoint_mpjpe`. Procrustes alignment is
MMPose's ``compute_similarity_transform``, distances are torch's ``cdist``.

Note:
    - samples: N
    - joints: J
    - vertices: V
    - reference poses (prototypes or training poses): M
    - rarity bins: B
"""
import math
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch
from mmpose.evaluation.functional.mesh_eval import compute_similarity_transform

__all__ = [
    'pelvis_align', 'similarity_procrustes', 'per_sample_mpjpe', 'per_sample_pve',
    'labelled_h36m_joints', 'mesh_rarity', 'nearest_distance', 'knn_distance', 'select_tail',
    'binned_stats', 'balanced_mean', 'tail_tag'
]


def _check_same_shape(pred: np.ndarray, gt: np.ndarray, name: str) -> None:
    if pred.shape != gt.shape:
        raise ValueError(f'{name}: prediction shape {pred.shape} does not match ground-truth '
                         f'shape {gt.shape} (mismatched sample or joint counts)')
    if pred.ndim != 3 or pred.shape[-1] != 3:
        raise ValueError(f'{name}: expected arrays of shape (N, J, 3), got {pred.shape}')


def pelvis_align(points: np.ndarray, pelvis: np.ndarray) -> np.ndarray:
    """Translate each sample so that its pelvis is at the origin.

    Args:
        points (np.ndarray): Joints or vertices, shape (N, J, 3).
        pelvis (np.ndarray): Pelvis location per sample, shape (N, 3).

    Returns:
        np.ndarray: Pelvis-centred points, shape (N, J, 3).
    """
    return points - pelvis[:, None, :]


def similarity_procrustes(pred: np.ndarray,
                          gt: np.ndarray,
                          mask: Optional[np.ndarray] = None) -> np.ndarray:
    """Align every prediction to its ground truth with MMPose's ``compute_similarity_transform`` (rotation
    without reflection, uniform scale, translation), fitted on the valid joints of each sample.

    Args:
        pred (np.ndarray): Predicted joints, shape (N, J, 3).
        gt (np.ndarray): Ground-truth joints, shape (N, J, 3).
        mask (np.ndarray, optional): Valid joints, shape (N, J), bool. Defaults to all valid.

    Returns:
        np.ndarray: Aligned predictions, shape (N, J, 3), float64; NaN at invalid joints. Valid joints
        that all coincide (e.g. a single one) map to the mean of their ground truth (scale 0).
    """
    _check_same_shape(pred, gt, 'similarity_procrustes')
    pred = pred.astype(np.float64)
    gt = gt.astype(np.float64)
    mask = np.ones(pred.shape[:2], dtype=bool) if mask is None else mask.astype(bool)
    out = np.full_like(pred, np.nan)
    for i, m in enumerate(mask):
        if not m.any():
            continue
        src, dst = pred[i, m], gt[i, m]
        if (src == src.mean(axis=0)).all():  # nothing to rotate or scale: MMPose would divide 0 by 0
            out[i, m] = dst.mean(axis=0)
        else:
            out[i, m] = compute_similarity_transform(src, dst)
    return out


def per_sample_mpjpe(pred: np.ndarray,
                     gt: np.ndarray,
                     mask: Optional[np.ndarray] = None,
                     alignment: str = 'none') -> np.ndarray:
    """Mean per-joint position error of every sample (in the input unit).

    With full masks, ``per_sample_mpjpe(...).mean()`` equals MMPose's
    ``keypoint_mpjpe(pred, gt, mask, alignment)`` for ``alignment`` in ``('none', 'procrustes')``.

    Args:
        pred (np.ndarray): Predicted joints, shape (N, J, 3), already root-aligned as the protocol wants.
        gt (np.ndarray): Ground-truth joints, shape (N, J, 3).
        mask (np.ndarray, optional): Valid joints, shape (N, J), bool. Defaults to all valid.
        alignment (str): ``'none'`` or ``'procrustes'`` (per-sample similarity transform).

    Returns:
        np.ndarray: Per-sample errors, shape (N,); NaN for samples without a valid joint, and for NaN
        predictions without alignment (the SVD of Procrustes raises ``LinAlgError`` on them).
    """
    _check_same_shape(pred, gt, 'per_sample_mpjpe')
    if mask is None:
        mask = np.ones(pred.shape[:2], dtype=bool)
    mask = mask.astype(bool)
    if alignment == 'procrustes':
        pred = similarity_procrustes(pred, gt, mask)
    elif alignment != 'none':
        raise ValueError(f'alignment must be "none" or "procrustes", got {alignment!r}')
    dist = np.linalg.norm(pred - gt, axis=-1)  # (N, J)
    count = mask.sum(axis=1)
    total = np.where(mask, dist, 0.0).sum(axis=1)
    return np.divide(total, count, out=np.full(len(pred), np.nan), where=count > 0)


def labelled_h36m_joints(joints: np.ndarray, weights: np.ndarray,
                         names: Sequence[str]) -> Tuple[np.ndarray, np.ndarray]:
    """Human3.6M's 17 joints, in the order of ``J_regressor_h36m``, from labels in any joint set.

    Looked up by name: SPIN's definitions (``keypoint_conventions.H36M_SPIN_KEYPOINTS``), or MMHuman3D's
    naming of an H36M file (``H36M_KEYPOINTS``) when the labels have ``headtop`` but no ``jaw_extra``.

    Args:
        joints (np.ndarray): Labelled joints, shape (J, 3).
        weights (np.ndarray): Their visibility, shape (J,).
        names (Sequence[str]): The J joint names.

    Returns:
        tuple: joints (17, 3) (zeros where not labelled) and weights (17,).
    """
    from pmnet_plugin.datasets.keypoint_conventions import H36M_KEYPOINTS, H36M_SPIN_KEYPOINTS
    lookup = {n: i for i, n in enumerate(names)}
    labelled = {n for n, i in lookup.items() if weights[i] > 0}
    order = (H36M_KEYPOINTS if 'headtop' in labelled and 'jaw_extra' not in labelled else
             H36M_SPIN_KEYPOINTS)
    ids = np.array([lookup.get(n, -1) for n in order])
    ok = ids >= 0
    safe = np.maximum(ids, 0)
    return np.where(ok[:, None], joints[safe], 0.), np.where(ok, weights[safe], 0.)


def per_sample_pve(pred_vertices: np.ndarray, gt_vertices: np.ndarray) -> np.ndarray:
    """Per-vertex error (mean Euclidean vertex distance) of every sample.

    Args:
        pred_vertices (np.ndarray): Shape (N, V, 3), aligned the way the protocol wants (pelvis-centred).
        gt_vertices (np.ndarray): Shape (N, V, 3).

    Returns:
        np.ndarray: Shape (N,).
    """
    _check_same_shape(pred_vertices, gt_vertices, 'per_sample_pve')
    return np.linalg.norm(pred_vertices - gt_vertices, axis=-1).mean(axis=1)


def mesh_rarity(vertices: np.ndarray, mean_vertices: np.ndarray) -> np.ndarray:
    """Rarity as the mean per-vertex distance to the mean-pose mesh (Balanced MSE's IHMR axis, used by
    PM-Net to define the tail).

    Args:
        vertices (np.ndarray): GT meshes posed in a canonical frame, shape (N, V, 3).
        mean_vertices (np.ndarray): The mean-pose mesh in the same frame, shape (V, 3) or (1, V, 3).

    Returns:
        np.ndarray: Shape (N,), larger = rarer.
    """
    mean_vertices = np.broadcast_to(mean_vertices.reshape(1, -1, 3), vertices.shape)
    return per_sample_pve(vertices, mean_vertices)


def knn_distance(features: np.ndarray,
                 reference: np.ndarray,
                 k: int = 1,
                 chunk: int = 1024) -> np.ndarray:
    """Mean Euclidean distance of each feature to its ``k`` nearest reference features.

    With ``k=1`` this is the distance to the nearest prototype; with ``k>1`` against training poses it is
    a k-NN (inverse) density score: the larger, the sparser the training data around the pose.

    Args:
        features (np.ndarray): Query features, shape (N, D).
        reference (np.ndarray): Reference features, shape (M, D).
        k (int): Neighbours averaged. Defaults to 1.
        chunk (int): Queries per block (bounds memory at chunk x M). Defaults to 1024.

    Returns:
        np.ndarray: Shape (N,).
    """
    if reference.ndim != 2 or features.ndim != 2 or reference.shape[1] != features.shape[1]:
        raise ValueError(f'knn_distance: feature shapes {features.shape} and {reference.shape} differ')
    if not 1 <= k <= len(reference):
        raise ValueError(f'knn_distance: k={k} needs 1 <= k <= {len(reference)} reference poses')
    features = features.astype(np.float64)
    ref = torch.from_numpy(reference.astype(np.float64))
    out = np.empty(len(features))
    for start in range(0, len(features), chunk):
        # the matrix-product form of the distance runs on BLAS (scipy's cdist loops per pair)
        d = torch.cdist(torch.from_numpy(features[start:start + chunk]), ref,
                        compute_mode='use_mm_for_euclid_dist').numpy()
        out[start:start + chunk] = np.sort(np.partition(d, k - 1, axis=1)[:, :k], axis=1).mean(1)
    return out


def nearest_distance(features: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Distance of each feature to its nearest reference (e.g. prototype), shape (N,)."""
    return knn_distance(features, reference, k=1)


def select_tail(scores: np.ndarray, fraction: float) -> np.ndarray:
    """Mask of the ``ceil(fraction * N)`` rarest samples (largest scores; ties broken by index).

    Args:
        scores (np.ndarray): Rarity per sample, shape (N,).
        fraction (float): Tail fraction in (0, 1].

    Returns:
        np.ndarray: Bool mask, shape (N,).
    """
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f'tail fraction must be in (0, 1], got {fraction}')
    n = len(scores)
    n_tail = min(n, max(1, math.ceil(fraction * n - 1e-9)))
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind='stable')
    mask = np.zeros(n, dtype=bool)
    mask[order[:n_tail]] = True
    return mask


def binned_stats(scores: np.ndarray,
                 values: np.ndarray,
                 num_bins: int = 100,
                 value_range: Optional[Sequence[float]] = None) -> Dict[str, np.ndarray]:
    """Mean of ``values`` in equal-width bins of ``scores``.

    Args:
        scores (np.ndarray): Rarity per sample, shape (N,).
        values (np.ndarray): Error per sample, shape (N,).
        num_bins (int): Number B of equal-width bins. Defaults to 100.
        value_range (Sequence[float], optional): ``(lo, hi)`` of the bins; defaults to the scores' range.
            Scores outside are clipped into the first/last bin.

    Returns:
        dict: ``edges`` (B+1,), ``centers`` (B,), ``counts`` (B,) int, ``means`` (B,) (NaN for empty bins).
    """
    scores = np.asarray(scores, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    if scores.shape != values.shape or scores.ndim != 1:
        raise ValueError(f'binned_stats: scores {scores.shape} and values {values.shape} must be (N,)')
    if len(scores) == 0:
        raise ValueError('binned_stats: no samples')
    lo, hi = (scores.min(), scores.max()) if value_range is None else value_range
    if hi <= lo:
        hi = lo + 1e-12
    edges = np.linspace(lo, hi, num_bins + 1)
    idx = np.clip(np.floor((scores - lo) / (hi - lo) * num_bins).astype(np.int64), 0, num_bins - 1)
    counts = np.bincount(idx, minlength=num_bins)
    sums = np.bincount(idx, weights=values, minlength=num_bins)
    means = np.divide(sums, counts, out=np.full(num_bins, np.nan), where=counts > 0)
    return dict(edges=edges, centers=(edges[:-1] + edges[1:]) / 2, counts=counts, means=means)


def balanced_mean(scores: np.ndarray, values: np.ndarray, num_bins: int = 100) -> float:
    """Balanced average: the mean over non-empty equal-width rarity bins of each bin's mean error
    (Balanced MSE, Sec. 4.2.2; 100 bins there).

    Args:
        scores (np.ndarray): Rarity per sample, shape (N,).
        values (np.ndarray): Error per sample, shape (N,).
        num_bins (int): Number of bins. Defaults to 100.

    Returns:
        float: The balanced mean.
    """
    means = binned_stats(scores, values, num_bins)['means']
    return float(np.nanmean(means))


def tail_tag(fraction: float) -> str:
    """Key fragment for a tail fraction: 0.1 -> 'tail10', 0.05 -> 'tail5', 0.025 -> 'tail2.5'."""
    pct = round(fraction * 100, 6)
    return f'tail{int(pct)}' if float(pct).is_integer() else f'tail{pct:g}'
