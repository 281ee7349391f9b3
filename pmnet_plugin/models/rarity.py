"""Pose rarity of a prediction: mesh distance to the mean-params mesh and its training percentile.

The axis is the one of the ``PoseRarity`` evaluator (``rarity='mesh'``; Balanced MSE's IHMR axis, which
PM-Net uses to define the tail): the mean per-vertex distance, in mm, between the mesh of a pose and the
mesh of the mean parameters, both with the identity global orientation, the mean-params betas and centred
on the SMPL pelvis, so that only the body articulation counts.

The percentile of a score among the training poses comes from a table of quantiles of the training scores
(:data:`NUM_RARITY_QUANTILES` values at 0, 0.1, ..., 100 %) that ``tools/build_prototypes.py --body-model``
writes into the prototype file (keys of :func:`rarity_file_arrays`). Heads keep the table in a buffer of
:class:`PoseRarityScorer`, so it travels in checkpoints.

Note:
    - batch size: B
    - vertices: V
    - quantiles: Q = 1001
"""
import os.path as osp
import warnings
from typing import Dict, Optional

import numpy as np
import torch
from torch import Tensor, nn

from pmnet_plugin.utils.rotation import rot6d_to_matrix

__all__ = [
    'NUM_RARITY_QUANTILES', 'rarity_levels', 'canonical_mesh', 'percentile_of', 'rarity_file_arrays',
    'load_rarity_quantiles', 'PoseRarityScorer'
]

NUM_RARITY_QUANTILES = 1001
UNKNOWN_QUANTILE = -1.0  # fills the table when no percentiles are known (scores are >= 0)
NUM_BODY_JOINTS = 23


def rarity_levels(num: int = NUM_RARITY_QUANTILES) -> np.ndarray:
    """Percent levels of the quantile table, shape (num,): 0, ..., 100."""
    return np.linspace(0.0, 100.0, num)


def canonical_mesh(body_model: nn.Module, body_rotmats: Tensor, betas: Tensor) -> Tensor:
    """Meshes of body poses with the identity global orientation, centred on the SMPL pelvis, in mm.

    Args:
        body_model (nn.Module): ``SMPLBodyModel``.
        body_rotmats (Tensor): Body-joint rotations (joints 1..23), shape (B, 23, 3, 3).
        betas (Tensor): Shapes, shape (B, 10).

    Returns:
        Tensor: Vertices, shape (B, V, 3), mm.
    """
    eye = torch.eye(3, dtype=body_rotmats.dtype, device=body_rotmats.device)
    orient = eye.reshape(1, 1, 3, 3).expand(body_rotmats.shape[0], 1, 3, 3)
    out = body_model(betas=betas, body_pose=body_rotmats, global_orient=orient)
    return (out['vertices'] - out['joints'][:, :1]) * 1000.0


def percentile_of(values: Tensor, quantiles: Tensor) -> Tensor:
    """Percentile of each value in the distribution given by its quantile table (inverse of
    ``np.percentile``'s linear interpolation); uses only ops that export to ONNX.

    Args:
        values (Tensor): Scores, shape (B,).
        quantiles (Tensor): Ascending quantiles at :func:`rarity_levels` ``(Q)``, shape (Q,).

    Returns:
        Tensor: Percent in [0, 100], shape (B,).
    """
    q = quantiles.to(values.dtype)
    num = q.shape[0]
    idx = (q[None, :] <= values[:, None]).to(torch.int64).sum(1).clamp(1, num - 1)
    lo, hi = q[idx - 1], q[idx]
    frac = ((values - lo) / (hi - lo).clamp(min=1e-12)).clamp(0.0, 1.0)
    return ((idx - 1).to(values.dtype) + frac) * (100.0 / (num - 1))


def rarity_file_arrays(scores: np.ndarray, mean_pose_rot6d: np.ndarray, mean_betas: np.ndarray,
                       body_model_path: str) -> Dict[str, np.ndarray]:
    """The arrays ``tools/build_prototypes.py`` adds to a prototype file for the rarity percentiles.

    Args:
        scores (np.ndarray): Rarity (mm) of every training pose, shape (N,).
        mean_pose_rot6d (np.ndarray): Mean pose the scores were measured against, shape (24, 6).
        mean_betas (np.ndarray): Mean betas of that mesh, shape (10,).
        body_model_path (str): Body model used, recorded for reference.

    Returns:
        dict: ``rarity_quantiles`` (Q,) float32 (mm), ``rarity_levels`` (Q,) percent,
        ``rarity_num_poses``, ``rarity_mean_pose_rot6d`` (24, 6), ``rarity_mean_betas`` (10,),
        ``rarity_body_model``.
    """
    scores = np.asarray(scores, np.float64).reshape(-1)
    scores = scores[np.isfinite(scores)]
    if not len(scores):
        raise ValueError('rarity_file_arrays: no finite rarity score')
    levels = rarity_levels()
    return dict(rarity_quantiles=np.percentile(scores, levels).astype(np.float32),
                rarity_levels=levels.astype(np.float32), rarity_num_poses=np.int64(len(scores)),
                rarity_mean_pose_rot6d=np.asarray(mean_pose_rot6d, np.float32).reshape(-1, 6),
                rarity_mean_betas=np.asarray(mean_betas, np.float32).reshape(-1),
                rarity_body_model=np.str_(body_model_path))


def load_rarity_quantiles(path: str) -> Optional[Dict[str, np.ndarray]]:
    """Reads the rarity table of a prototype file (or any ``.npz`` holding the same keys).

    Args:
        path (str): ``.npz`` written by ``tools/build_prototypes.py --body-model ...``.

    Returns:
        dict | None: ``quantiles`` (Q,) resampled to :func:`rarity_levels`, ``mean_pose_rot6d`` (24, 6)
        and ``mean_betas`` (10,) (None where the file lacks them); None (with a warning naming the
        file and the fix) when the file or its ``rarity_quantiles`` key is missing.
    """
    fix = ('build it with tools/build_prototypes.py --poses TRAIN_POSES --body-model SMPL_FILE '
           '--mean-params MEAN_PARAMS (see docs/deploy.md)')
    if not osp.isfile(path):
        warnings.warn(f'rarity file not found: {path}; rarity percentiles are unknown (NaN) unless a '
                      f'checkpoint provides them. To get them, {fix}.')
        return None
    with np.load(path, allow_pickle=False) as f:
        d = {k: f[k] for k in f.files if k.startswith('rarity_')}
    if 'rarity_quantiles' not in d:
        warnings.warn(f'{path} has no "rarity_quantiles" (written without --body-model); rarity '
                      f'percentiles are unknown (NaN) unless a checkpoint provides them. To add them, {fix}.')
        return None
    q = np.asarray(d['rarity_quantiles'], np.float64).reshape(-1)
    levels = np.asarray(d.get('rarity_levels', rarity_levels(len(q))), np.float64).reshape(-1)
    if len(q) < 2 or levels.shape != q.shape or not np.isfinite(q).all() or np.any(np.diff(q) < 0):
        raise ValueError(f'{path}: "rarity_quantiles" must be finite, ascending and match '
                         f'"rarity_levels" (got shapes {q.shape} / {levels.shape}); rebuild it: {fix}')
    return dict(quantiles=np.interp(rarity_levels(), levels, q).astype(np.float32),
                mean_pose_rot6d=d.get('rarity_mean_pose_rot6d'), mean_betas=d.get('rarity_mean_betas'))


class PoseRarityScorer(nn.Module):
    """Rarity (mm) and training percentile of predicted poses, from the head's mean parameters.

    The quantile table is the buffer ``quantiles`` (Q,), saved in checkpoints; filled with
    :data:`UNKNOWN_QUANTILE` when unknown (no rarity file, or an older checkpoint without the buffer:
    loading one keeps the constructor's values instead of reporting a missing key), and then
    ``rarity_percentile`` is NaN. The mean mesh is computed in the same body-model call as the
    predictions, so the scorer holds no copy of the mean parameters and follows the head's buffers.

    Args:
        rarity_file (str, optional): Prototype file (or ``.npz``) with ``rarity_quantiles``. Defaults to
            None (percentiles unknown unless a checkpoint provides them).
        mean_pose_rot6d (np.ndarray, optional): The head's mean pose (24, 6), checked against the one the
            table was measured with (a warning when the body joints differ).
        mean_betas (np.ndarray, optional): The head's mean betas (10,), checked the same way.
    """

    def __init__(self, rarity_file: Optional[str] = None, mean_pose_rot6d: Optional[np.ndarray] = None,
                 mean_betas: Optional[np.ndarray] = None) -> None:
        super().__init__()
        quantiles = np.full(NUM_RARITY_QUANTILES, UNKNOWN_QUANTILE, np.float32)
        table = load_rarity_quantiles(rarity_file) if rarity_file else None
        if table is not None:
            quantiles = table['quantiles']
            checks = (('mean pose', mean_pose_rot6d, table['mean_pose_rot6d'], 6),
                      ('mean betas', mean_betas, table['mean_betas'], 10))
            for name, ours, theirs, width in checks:
                if ours is None or theirs is None:
                    continue
                ours = np.asarray(ours, np.float64).reshape(-1, width)
                theirs = np.asarray(theirs, np.float64).reshape(-1, width)
                if width == 6:  # the global orientation does not enter the score
                    ours, theirs = ours[1:], theirs[1:]
                if ours.shape != theirs.shape or not np.allclose(ours, theirs, atol=1e-4):
                    warnings.warn(f'{rarity_file}: the rarity percentiles were measured against another '
                                  f'{name} than the head\'s mean_params; rebuild the file with '
                                  'tools/build_prototypes.py --mean-params set to the head\'s file.')
        self.register_buffer('quantiles', torch.as_tensor(quantiles, dtype=torch.float32))

    @property
    def has_percentiles(self) -> bool:
        """bool: Whether the quantile table is known."""
        return bool((self.quantiles >= 0).all())

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs) -> None:
        key = prefix + 'quantiles'
        present = key in state_dict
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)
        if not present and key in missing_keys:  # a checkpoint from before the table existed
            missing_keys.remove(key)

    def forward(self, body_model: nn.Module, pose_rotmat: Tensor, mean_pose_rot6d: Tensor,
                mean_betas: Tensor) -> Dict[str, Tensor]:
        """Scores predicted poses.

        Args:
            body_model (nn.Module): The head's ``SMPLBodyModel``.
            pose_rotmat (Tensor): Predicted poses, shape (B, 24, 3, 3) (joint 0 is ignored).
            mean_pose_rot6d (Tensor): Mean pose, shape (1, 144) (24 x 6D).
            mean_betas (Tensor): Mean betas, shape (1, 10).

        Returns:
            dict: ``rarity`` (B,) mm and ``rarity_percentile`` (B,) percent among the training poses
            (NaN when unknown).
        """
        B = pose_rotmat.shape[0]
        mean_rot = rot6d_to_matrix(mean_pose_rot6d.reshape(1, -1, 6).float())[:, 1:]
        body = torch.cat([pose_rotmat[:, 1:].float(), mean_rot], dim=0)
        betas = mean_betas.float().reshape(1, -1).expand(B + 1, -1)
        with torch.autocast(device_type=pose_rotmat.device.type, enabled=False):
            verts = canonical_mesh(body_model, body, betas)
        rarity = torch.linalg.norm(verts[:B] - verts[B:], dim=-1).mean(-1)
        pct = percentile_of(rarity, self.quantiles)
        pct = torch.where(self.quantiles[0] >= 0, pct, torch.full_like(pct, float('nan')))
        return dict(rarity=rarity, rarity_percentile=pct)
