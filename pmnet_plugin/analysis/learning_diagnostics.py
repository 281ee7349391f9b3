"""Has a mesh regressor learned anything from the image? Diagnostics against image-independent baselines.

A model that collapses to one body for every input can still report plausible-looking MPJPE numbers. These
functions measure how much its predictions vary with the input and compare its error with the best
predictions that ignore the image.
"""
from typing import Dict

import numpy as np

from pmnet_plugin.evaluation.functional.mesh_eval import per_sample_mpjpe


def prediction_spread(joints: np.ndarray) -> float:
    """Spread of root-relative joints over samples: ``sqrt(mean_{j,c} Var_n[joints[n, j, c]])``.

    Args:
        joints (np.ndarray): Root-relative joints (N, J, 3).

    Returns:
        float: In the unit of ``joints``; 0 when every sample is the same body.
    """
    joints = np.asarray(joints, np.float64)
    return float(np.sqrt(joints.var(axis=0).mean()))


def spread_ratio(pred: np.ndarray, gt: np.ndarray) -> float:
    """``prediction_spread(pred) / prediction_spread(gt)``: 1 when predictions vary as much as the truth,
    near 0 for a collapsed model.

    Args:
        pred (np.ndarray): Predicted root-relative joints (N, J, 3).
        gt (np.ndarray): Ground-truth root-relative joints (N, J, 3).

    Returns:
        float: The ratio.
    """
    return prediction_spread(pred) / max(prediction_spread(gt), 1e-12)


def constant_baseline_mpjpe(gt: np.ndarray) -> float:
    """MPJPE of the best constant prediction under squared error: the mean root-relative GT pose of the split
    itself (an upper bound on what any image-independent prediction achieves, since it peeks at the split).

    Args:
        gt (np.ndarray): Ground-truth root-relative joints (N, J, 3).

    Returns:
        float: Mean per-joint error in the unit of ``gt``.
    """
    gt = np.asarray(gt, np.float64)
    const = np.broadcast_to(gt.mean(axis=0, keepdims=True), gt.shape)
    return float(np.nanmean(per_sample_mpjpe(const, gt)))


def selector_accuracy(pred_ids: np.ndarray, nearest_ids: np.ndarray, num_prototypes: int) -> Dict[str, float]:
    """Top-1 accuracy of a prototype selector against the GT-nearest prototype, with two chance levels.

    Args:
        pred_ids (np.ndarray): Selected prototype per sample (N,).
        nearest_ids (np.ndarray): Prototype nearest to each GT pose (N,).
        num_prototypes (int): K.

    Returns:
        dict: ``accuracy``, ``chance_uniform`` (1 / K) and ``chance_majority`` (the share of the most frequent
        nearest prototype: what always picking one prototype scores).
    """
    pred_ids, nearest_ids = np.asarray(pred_ids).reshape(-1), np.asarray(nearest_ids).reshape(-1)
    if pred_ids.shape != nearest_ids.shape:
        raise ValueError(f'selector_accuracy: {pred_ids.shape} predictions vs {nearest_ids.shape} targets')
    counts = np.bincount(nearest_ids, minlength=num_prototypes)
    return dict(accuracy=float((pred_ids == nearest_ids).mean()), chance_uniform=1.0 / num_prototypes,
                chance_majority=float(counts.max() / max(len(nearest_ids), 1)))
