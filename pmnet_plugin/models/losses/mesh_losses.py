"""The training loss terms of the mesh heads in one registered module.

Each term is named after the label it supervises: label ``x`` (``docs/design.md``, label vocabulary) is
compared under ``pred['x']`` / ``target['x']``, weighted by the constructor argument ``x_weight`` and logged
as ``loss_x``. The adversarial prior's discriminator lives in :mod:`pmnet_plugin.models.discriminators`.
"""
from typing import Dict, Optional

import torch
import torch.nn.functional as F
from mmpose.registry import MODELS
from mmpose.utils.typing import ConfigType, OptConfigType
from torch import Tensor, nn

from pmnet_plugin.models.discriminators import RealPoseSampler, adversarial_losses
from pmnet_plugin.utils.finite_checks import finite_checks_deferred, non_finite

# SPIN's camera term exp(-10 s)^2 = exp(-20 s) overflows float32 once s < -4.4; below this floor it
# continues linearly (see cam_scale_regulariser)
CAM_SCALE_FLOOR = -0.5


def cam_scale_regulariser(scale: Tensor) -> Tensor:
    """SPIN's ``exp(-10 s)^2`` for ``s >= CAM_SCALE_FLOOR``, its tangent line below (finite for any s).

    SPIN's term keeps the weak-perspective scale positive; for very negative ``s`` (seen when a head is
    trained on frozen features) ``exp(-20 s)`` overflows to inf and the run stops. Here ``s`` is clamped
    at the floor before ``exp``, and the part below the floor is added back to first order:
    ``exp(-20 c) * (1 + 20 (c - s))`` with ``c = max(s, floor)``. Value and gradient equal SPIN's for
    ``s >= floor`` (at most ``e^10 ~ 2.2e4`` per sample there); below it the term grows linearly with
    the constant slope ``-20 e^10``, so the gradient still pushes ``s`` up. The floor is our choice.

    Args:
        scale (Tensor): Predicted scales ``s``, shape (B,).

    Returns:
        Tensor: Per-sample regulariser, shape (B,).
    """
    clamped = scale.clamp(min=CAM_SCALE_FLOOR)
    return torch.exp(-20.0 * clamped) * (1.0 + 20.0 * (clamped - scale))


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


def root_relative(joints: Tensor, root_weights: Tensor) -> Tensor:
    """Joints relative to each sample's root, the ``root_weights``-weighted mean of its joints.

    Args:
        joints (Tensor): Shape (B, J, 3).
        root_weights (Tensor): Shape (B, J); e.g. one-hot on the pelvis, or 0.5 on two hips.

    Returns:
        Tensor: Shape (B, J, 3). Samples whose weights sum to 0 are returned unchanged.
    """
    w = root_weights.to(joints.dtype)
    root = (w[..., None] * joints).sum(1, keepdim=True) / w.sum(1).clamp(min=1e-8)[:, None, None]
    return joints - root


@MODELS.register_module()
class MeshLoss(nn.Module):
    """SPIN-style SMPL regression losses, the PM-Net assignment loss and HMR's optional adversarial prior.

    Each term is a mean over the *labelled* entries of its label; a term whose weight is 0 is neither computed
    nor returned. Defaults are SPIN's weights and criteria (MSE; L1 for vertices), see ``docs/model.md``.

    Args:
        keypoints_3d_weight (float): 3D joints aligned on the sample's root, MSE in metres. Defaults to 5.
        keypoint_labels_weight (float): Projected 2D joints in [-1, 1] crop coords, MSE. Defaults to 5.
        smpl_pose_weight (float): SMPL pose as rotation matrices, MSE, where ``has_smpl``. Defaults to 1.
        smpl_betas_weight (float): SMPL betas, MSE, where ``has_smpl``. Defaults to 0.001.
        vertices_weight (float): Vertices, L1, where ``has_smpl`` (needs ``target['vertices']``). Defaults to 0.
        cam_weight (float): SPIN's scale regulariser (:func:`cam_scale_regulariser`). Defaults to 60.
        proto_weight (float): Prototype assignment, CE (hard) or KL (soft), where ``has_smpl``. Defaults to 1.
        use_adversarial (bool): Build HMR's discriminator prior (needs ``adversarial_weight > 0``).
        adversarial_weight (float): Weight of ``loss_adv``, the LSGAN encoder term. Defaults to 0.
        discriminator_weight (float): Weight of ``loss_disc``, the LSGAN discriminator term. Defaults to 1.
        discriminator (dict): Discriminator config. Defaults to ``SMPLPoseDiscriminator``.
        real_pose_file (str): Real SMPL poses for the discriminator (pose library or HumanData npz).
        check_finite (bool): Raise ``RuntimeError`` naming a NaN/inf term. Defaults to True.
        keypoints_3d_loss (dict, optional): Loss module ``(pred, target, weights) -> scalar`` replacing the
            3D joint MSE, e.g. ``dict(type='BalancedMSELoss')``. Defaults to None (MSE).
        smpl_pose_loss (dict, optional): The same for the SMPL pose term. Defaults to None (MSE).

    Note:
        - batch size: B;  joints of the label set: J;  vertices: V;  prototypes: K
    """

    def __init__(self,
                 keypoints_3d_weight: float = 5.0,
                 keypoint_labels_weight: float = 5.0,
                 smpl_pose_weight: float = 1.0,
                 smpl_betas_weight: float = 0.001,
                 vertices_weight: float = 0.0,
                 cam_weight: float = 60.0,
                 proto_weight: float = 1.0,
                 use_adversarial: bool = False,
                 adversarial_weight: float = 0.0,
                 discriminator_weight: float = 1.0,
                 discriminator: ConfigType = dict(type='SMPLPoseDiscriminator'),
                 real_pose_file: str = 'data/mocap/pose_library.npz',
                 check_finite: bool = True,
                 keypoints_3d_loss: OptConfigType = None,
                 smpl_pose_loss: OptConfigType = None):
        super().__init__()
        if use_adversarial != (adversarial_weight > 0):
            raise ValueError(
                f'MeshLoss: use_adversarial={use_adversarial} needs adversarial_weight '
                f'{"> 0" if use_adversarial else "= 0"}, got {adversarial_weight}.')
        self.discriminator = MODELS.build(discriminator) if use_adversarial else None
        self.real_poses = RealPoseSampler(
            real_pose_file, self.discriminator.num_betas) if use_adversarial else None
        self.weights = dict(
            keypoints_3d=keypoints_3d_weight,
            keypoint_labels=keypoint_labels_weight,
            smpl_pose=smpl_pose_weight,
            smpl_betas=smpl_betas_weight,
            vertices=vertices_weight,
            cam=cam_weight,
            proto=proto_weight,
            adv=adversarial_weight,
            disc=discriminator_weight)
        self.check_finite = check_finite
        self.regression_losses = nn.ModuleDict({
            name: MODELS.build(cfg)
            for name, cfg in (('keypoints_3d', keypoints_3d_loss), ('smpl_pose', smpl_pose_loss)) if cfg})

    @property
    def needs_gt_vertices(self) -> bool:
        """bool: Whether the caller must provide ``target['vertices']``."""
        return self.weights['vertices'] > 0

    def forward(self, pred: Dict[str, Tensor], target: Dict[str, Tensor]) -> Dict[str, Tensor]:
        """Compute the weighted loss terms.

        Args:
            pred (dict): ``keypoint_labels`` (B, J, 2) projected joints in [-1, 1], ``keypoints_3d``
                (B, J, 3) body-model frame, ``smpl_pose_rotmat`` (B, 24, 3, 3), ``smpl_betas``
                (B, 10), ``cam`` (B, 3), optional ``vertices`` (B, V, 3), ``proto_logits`` (B, K).
            target (dict): ``keypoint_labels`` (B, J, 2), ``keypoint_weights`` (B, J),
                ``keypoints_3d`` (B, J, 3), ``keypoints_3d_weights`` (B, J), optional
                ``keypoints_3d_root`` (B, J) root weights (joint 0 when absent), ``smpl_pose_rotmat``
                (B, 24, 3, 3), ``smpl_betas`` (B, 10), ``has_smpl`` (B,), optional ``vertices``
                (B, V, 3) and ``proto_target`` (B,) long or (B, K) probabilities.

        Returns:
            dict: ``loss_<term>`` scalars, already multiplied by their weights; with
            ``use_adversarial`` also ``loss_adv``, ``loss_disc`` and ``acc_disc`` (for logs).
        """
        w = self.weights
        pred = {k: v.float() if torch.is_floating_point(v) else v for k, v in pred.items()}
        has_smpl = target['has_smpl'].float()
        losses: Dict[str, Tensor] = {}
        if w['keypoints_3d'] > 0:
            root = target.get('keypoints_3d_root')
            if root is None:
                root = torch.zeros_like(target['keypoints_3d_weights'])
                root[:, 0] = 1.
            losses['keypoints_3d'] = self._regression('keypoints_3d', root_relative(pred['keypoints_3d'], root),
                                                      root_relative(target['keypoints_3d'], root),
                                                      target['keypoints_3d_weights'])
        if w['keypoint_labels'] > 0:
            err = (pred['keypoint_labels'] - target['keypoint_labels'])**2
            losses['keypoint_labels'] = _masked_mean(err, target['keypoint_weights'])
        if w['smpl_pose'] > 0:
            losses['smpl_pose'] = self._regression('smpl_pose', pred['smpl_pose_rotmat'],
                                                   target['smpl_pose_rotmat'], has_smpl)
        if w['smpl_betas'] > 0:
            losses['smpl_betas'] = _masked_mean((pred['smpl_betas'] - target['smpl_betas'])**2, has_smpl)
        if w['vertices'] > 0:
            if 'vertices' not in pred or 'vertices' not in target:
                raise KeyError('MeshLoss: vertices_weight > 0 needs pred and target "vertices"')
            err = (pred['vertices'] - target['vertices']).abs()
            losses['vertices'] = _masked_mean(err, has_smpl)
        if w['cam'] > 0:
            losses['cam'] = cam_scale_regulariser(pred['cam'][:, 0]).mean()
        if w['proto'] > 0 and 'proto_logits' in pred and 'proto_target' in target:
            losses['proto'] = self._assignment_loss(pred['proto_logits'], target['proto_target'],
                                                    has_smpl)
        acc = None
        if self.discriminator is not None:
            losses['adv'], losses['disc'], acc = adversarial_losses(
                self.discriminator, self.real_poses, pred['smpl_pose_rotmat'], pred['smpl_betas'])
        out = {f'loss_{name}': value * w[name] for name, value in losses.items()}
        if self.check_finite and not finite_checks_deferred():
            bad = non_finite(list(out.items()))
            if bad:
                raise RuntimeError(f'MeshLoss: loss term "{bad[0]}" is not finite ({out[bad[0]]}).')
        if acc is not None:
            out['acc_disc'] = acc
        for name, module in self.regression_losses.items():
            if isinstance(getattr(module, 'noise_sigma', None), Tensor):
                out[f'noise_sigma_{name}'] = module.noise_sigma.detach().abs()
        return out

    def _regression(self, name: str, pred: Tensor, target: Tensor, weights: Tensor) -> Tensor:
        """MSE over the labelled entries, or the ``<name>_loss`` module when one is configured.

        Args:
            name (str): Term name, ``keypoints_3d`` or ``smpl_pose``.
            pred (Tensor): Shape (B, J, ...).
            target (Tensor): Shape of ``pred``.
            weights (Tensor): Per-joint (B, J) or per-sample (B,) weights.

        Returns:
            Tensor: Scalar loss before the term weight.
        """
        if name in self.regression_losses:
            return self.regression_losses[name](pred, target, weights)
        return _masked_mean((pred - target)**2, weights)

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
