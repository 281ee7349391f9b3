"""All training losses of the mesh heads in one registered module."""
from typing import Dict, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from mmpose.registry import MODELS


def _masked_mean(err: Tensor, weights: Tensor) -> Tensor:
    """Weighted mean of ``err`` over labelled elements.

    Args:
        err (Tensor): Per-element error, shape (B, ...) whose leading dims match ``weights``.
        weights (Tensor): Per-item weights, shape (B,) or (B, J).

    Returns:
        Tensor: Scalar; ``sum(w * err) / max(sum(w) * D, 1)`` with D the trailing elements per item,
        so the loss is a mean over labelled entries (0 when nothing is labelled).
    """
    w = weights.reshape(weights.shape + (1, ) * (err.dim() - weights.dim())).to(err.dtype)
    per_item = err[0:1].numel() // max(weights[0:1].numel(), 1)
    return (err * w).sum() / (w.sum() * per_item).clamp(min=1.0)


@MODELS.register_module()
class MeshLoss(nn.Module):
    """SPIN-style SMPL regression losses plus the PM-Net prototype assignment loss.

    Default weights are SPIN's (``keypoint_loss_weight=5``, ``pose_loss_weight=1``,
    ``beta_loss_weight=0.001``, ``cam_loss_weight=60``, ``shape_loss_weight=0``), with SPIN's
    criteria: MSE for keypoints / rotation matrices / betas, L1 for vertices. A term whose weight is 0
    is not computed and not returned. Our choice where SPIN differs: every term is a mean over the
    *labelled* entries (SPIN averages over the whole batch incl. zero-confidence entries), so a term
    does not shrink when few samples carry that label.

    Args:
        keypoints_3d_weight (float): Pelvis-aligned 3D joints (SMPL joint 0 as root), MSE in metres.
        keypoints_2d_weight (float): Re-projected 2D joints in [-1, 1] crop coords, MSE.
        pose_weight (float): SMPL pose as rotation matrices (B, 24, 3, 3), MSE, where ``has_smpl``.
        betas_weight (float): SMPL betas, MSE, where ``has_smpl``.
        vertices_weight (float): Vertices, L1, where ``has_smpl``; needs ``target['vertices']``
            (the head only runs the body model on the GT when this weight is > 0).
        camera_weight (float): SPIN's regulariser ``exp(-10 s)^2`` keeping the scale positive.
        proto_weight (float): Prototype assignment; hard target (B,) -> cross-entropy, soft target
            (B, K) -> KL(target || softmax(logits)); only where ``has_smpl``.
        use_adversarial (bool): HMR's adversarial pose prior. Not implemented (raises).
        check_finite (bool): Raise ``RuntimeError`` naming the term when a loss is NaN/inf.
    """

    def __init__(self,
                 keypoints_3d_weight: float = 5.0,
                 keypoints_2d_weight: float = 5.0,
                 pose_weight: float = 1.0,
                 betas_weight: float = 0.001,
                 vertices_weight: float = 0.0,
                 camera_weight: float = 60.0,
                 proto_weight: float = 1.0,
                 use_adversarial: bool = False,
                 check_finite: bool = True):
        super().__init__()
        if use_adversarial:
            raise NotImplementedError(
                'MeshLoss(use_adversarial=True): the adversarial pose prior of HMR is not '
                'implemented in pmnet_plugin; set use_adversarial=False (SPIN also trains without).')
        self.weights = dict(
            keypoints_3d=keypoints_3d_weight,
            keypoints_2d=keypoints_2d_weight,
            smpl_pose=pose_weight,
            smpl_betas=betas_weight,
            vertices=vertices_weight,
            camera=camera_weight,
            proto=proto_weight)
        self.check_finite = check_finite

    @property
    def needs_gt_vertices(self) -> bool:
        """bool: Whether the caller must provide ``target['vertices']``."""
        return self.weights['vertices'] > 0

    def forward(self, pred: Dict[str, Tensor], target: Dict[str, Tensor]) -> Dict[str, Tensor]:
        """Compute the weighted loss terms.

        Args:
            pred (dict): ``pose_rotmat`` (B, 24, 3, 3), ``betas`` (B, 10), ``cam`` (B, 3),
                ``joints_3d`` (B, J, 3) body-model frame, ``keypoints_2d`` (B, J, 2) in [-1, 1],
                optional ``vertices`` (B, V, 3), ``proto_logits`` (B, K).
            target (dict): ``keypoints_3d`` (B, J, 3) root-relative, ``keypoints_3d_weights`` (B, J),
                ``keypoints_2d`` (B, J, 2), ``keypoints_2d_weights`` (B, J), ``pose_rotmat``
                (B, 24, 3, 3), ``betas`` (B, 10), ``has_smpl`` (B,), optional ``vertices``
                (B, V, 3) and ``proto_target`` (B,) long or (B, K) probabilities.

        Returns:
            dict: ``loss_<term>`` scalars, already multiplied by their weights.
        """
        w = self.weights
        pred = {k: v.float() if torch.is_floating_point(v) else v for k, v in pred.items()}
        has_smpl = target['has_smpl'].float()
        losses: Dict[str, Tensor] = {}
        if w['keypoints_3d'] > 0:
            joints = pred['joints_3d'] - pred['joints_3d'][:, :1]
            gt = target['keypoints_3d'] - target['keypoints_3d'][:, :1]
            losses['keypoints_3d'] = _masked_mean((joints - gt)**2, target['keypoints_3d_weights'])
        if w['keypoints_2d'] > 0:
            err = (pred['keypoints_2d'] - target['keypoints_2d'])**2
            losses['keypoints_2d'] = _masked_mean(err, target['keypoints_2d_weights'])
        if w['smpl_pose'] > 0:
            err = (pred['pose_rotmat'] - target['pose_rotmat'])**2
            losses['smpl_pose'] = _masked_mean(err, has_smpl)
        if w['smpl_betas'] > 0:
            losses['smpl_betas'] = _masked_mean((pred['betas'] - target['betas'])**2, has_smpl)
        if w['vertices'] > 0:
            if 'vertices' not in pred or 'vertices' not in target:
                raise KeyError('MeshLoss: vertices_weight > 0 needs pred and target "vertices"')
            err = (pred['vertices'] - target['vertices']).abs()
            losses['vertices'] = _masked_mean(err, has_smpl)
        if w['camera'] > 0:
            losses['camera'] = (torch.exp(-10.0 * pred['cam'][:, 0])**2).mean()
        if w['proto'] > 0 and 'proto_logits' in pred and 'proto_target' in target:
            losses['proto'] = self._assignment_loss(pred['proto_logits'], target['proto_target'],
                                                    has_smpl)
        out = {}
        for name, value in losses.items():
            value = value * w[name]
            if self.check_finite and not torch.isfinite(value).all():
                raise RuntimeError(f'MeshLoss: loss term "loss_{name}" is not finite ({value}).')
            out[f'loss_{name}'] = value
        return out

    @staticmethod
    def _assignment_loss(logits: Tensor, target: Tensor, mask: Optional[Tensor]) -> Tensor:
        """Cross-entropy (hard target) or KL (soft target) over the prototype logits.

        Args:
            logits (Tensor): Selection logits, shape (B, K).
            target (Tensor): Index (B,) or probabilities (B, K).
            mask (Tensor, optional): Per-sample weights (B,).

        Returns:
            Tensor: Scalar loss averaged over the masked samples.
        """
        log_q = F.log_softmax(logits, dim=-1)
        if target.dim() == 1:
            per_sample = -log_q.gather(1, target.long()[:, None])[:, 0]
        else:
            p = target.float()
            per_sample = (p * (torch.log(p.clamp(min=1e-12)) - log_q)).sum(-1)
        if mask is None:
            mask = torch.ones_like(per_sample)
        return _masked_mean(per_sample, mask)
