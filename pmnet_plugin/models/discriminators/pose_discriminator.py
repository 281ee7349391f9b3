"""HMR's factorised SMPL discriminator and its least-squares GAN objective."""
from typing import Sequence, Tuple

import torch
from mmpose.registry import MODELS
from torch import Tensor, nn
from torch.func import functional_call


@MODELS.register_module()
class SMPLPoseDiscriminator(nn.Module):
    """Adversarial prior on SMPL parameters of HMR (Kanazawa et al., "End-to-end Recovery of Human
    Shape and Pose", CVPR 2018, Sec. 3.3; ``Discriminator_separable_rotations`` of its TF code).

    The 23 body-joint rotation matrices are treated as a 23 x 1 "image" of 9 channels: two shared
    1x1 convolutions (9 -> 32 -> 32, ReLU) embed every joint, then 23 per-joint linear classifiers
    and one full-pose MLP (32*23 -> 1024 -> 1024 -> 1) score them; a separate MLP
    (10 -> 10 -> 5 -> 1) scores the betas. Global orient is not seen (it depends on the image).
    PyTorch's default initialisation (HMR/slim uses Xavier; our choice, untested difference).

    Args:
        num_joints (int): Body joints scored, 23 for SMPL (global orient excluded).
        num_betas (int): Shape coefficients. Defaults to 10.
        joint_channels (Sequence[int]): Widths of the shared 1x1 convolutions. Defaults to (32, 32).
        pose_hidden (Sequence[int]): Widths of the full-pose MLP. Defaults to (1024, 1024).
        betas_hidden (Sequence[int]): Widths of the betas MLP. Defaults to (10, 5).

    Note:
        - batch size: B
        - body joints: J = 23
        - outputs: J + 2 = 25 logits (J per-joint, 1 full pose, 1 betas), in that order
    """

    def __init__(self,
                 num_joints: int = 23,
                 num_betas: int = 10,
                 joint_channels: Sequence[int] = (32, 32),
                 pose_hidden: Sequence[int] = (1024, 1024),
                 betas_hidden: Sequence[int] = (10, 5)):
        super().__init__()
        self.num_joints = num_joints
        self.num_betas = num_betas
        self.joint_embed = self._mlp(9, joint_channels, conv=True)
        c = joint_channels[-1] if joint_channels else 9
        # 23 independent linear classifiers = one grouped 1x1 conv with a group per joint
        self.joint_out = nn.Conv1d(num_joints * c, num_joints, 1, groups=num_joints)
        self.pose_mlp = nn.Sequential(self._mlp(num_joints * c, pose_hidden),
                                      nn.Linear(pose_hidden[-1] if pose_hidden else
                                                num_joints * c, 1))
        self.betas_mlp = nn.Sequential(self._mlp(num_betas, betas_hidden),
                                       nn.Linear(betas_hidden[-1] if betas_hidden else
                                                 num_betas, 1))

    @staticmethod
    def _mlp(in_dim: int, dims: Sequence[int], conv: bool = False) -> nn.Sequential:
        layers = []
        for d in dims:
            layers += [nn.Conv1d(in_dim, d, 1) if conv else nn.Linear(in_dim, d), nn.ReLU()]
            in_dim = d
        return nn.Sequential(*layers)

    def forward(self, pose: Tensor, betas: Tensor) -> Tensor:
        """Score SMPL parameters (high = real).

        Args:
            pose (Tensor): Body-joint rotation matrices, shape (B, 23, 3, 3). A full SMPL pose
                (B, 24, 3, 3) is accepted and its global orient (joint 0) dropped.
            betas (Tensor): Shape coefficients, shape (B, 10).

        Returns:
            Tensor: Logits, shape (B, 25): per-joint (B, 23), full pose (B, 1), betas (B, 1).
        """
        if pose.shape[1] == self.num_joints + 1:
            pose = pose[:, 1:]
        B = pose.shape[0]
        if pose.shape[1:] != (self.num_joints, 3, 3) or betas.shape != (B, self.num_betas):
            raise ValueError(f'SMPLPoseDiscriminator: expected pose (B, {self.num_joints}, 3, 3) '
                             f'and betas (B, {self.num_betas}), got {tuple(pose.shape)} and '
                             f'{tuple(betas.shape)}')
        x = self.joint_embed(pose.reshape(B, self.num_joints, 9).transpose(1, 2))  # (B, C, J)
        per_joint = self.joint_out(x.transpose(1, 2).reshape(B, -1, 1))[..., 0]  # (B, J)
        full = self.pose_mlp(x.transpose(1, 2).reshape(B, -1))
        return torch.cat([per_joint, full, self.betas_mlp(betas)], dim=1)


def lsgan_encoder_loss(fake_logits: Tensor) -> Tensor:
    """HMR's encoder (generator) term: ``mean_b sum_k (D_k(fake) - 1)^2``.

    Args:
        fake_logits (Tensor): Discriminator outputs on predictions, shape (B, 25).

    Returns:
        Tensor: Scalar.
    """
    return ((fake_logits - 1)**2).sum(-1).mean()


def lsgan_discriminator_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """HMR's discriminator term: ``mean_b sum_k (D_k(real) - 1)^2 + mean_b sum_k D_k(fake)^2``.

    Args:
        real_logits (Tensor): Outputs on real (mocap) parameters, shape (B, 25).
        fake_logits (Tensor): Outputs on (detached) predictions, shape (B', 25).

    Returns:
        Tensor: Scalar.
    """
    return ((real_logits - 1)**2).sum(-1).mean() + (fake_logits**2).sum(-1).mean()


def discriminator_accuracy(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Fraction of (per-output) decisions that are right with the LSGAN threshold 0.5.

    Args:
        real_logits (Tensor): Shape (B, 25).
        fake_logits (Tensor): Shape (B', 25).

    Returns:
        Tensor: Scalar in [0, 1] (no gradient).
    """
    with torch.no_grad():
        right = torch.cat([(real_logits > 0.5).flatten(), (fake_logits <= 0.5).flatten()])
        return right.float().mean()


def adversarial_losses(discriminator: nn.Module, real_poses: nn.Module, pose_rotmat: Tensor,
                       betas: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    """HMR's LSGAN terms on the final predictions against a random real batch (unweighted).

    The encoder term is evaluated with ``torch.func.functional_call`` on *detached* discriminator
    parameters (gradient reaches the predictions only); the discriminator term sees *detached*
    predictions (gradient reaches the discriminator only). Both run in float32 (outside autocast).

    Args:
        discriminator (nn.Module): :class:`SMPLPoseDiscriminator`.
        real_poses (nn.Module): :class:`RealPoseSampler` (``sample(B)`` -> pose (B, 23, 3, 3), betas (B, 10)).
        pose_rotmat (Tensor): Predicted poses (B, 24, 3, 3); global orient is not scored.
        betas (Tensor): Predicted betas (B, 10).

    Returns:
        tuple: Encoder term (scalar), discriminator term (scalar), the discriminator's accuracy on this
        batch (scalar, no gradient).
    """
    D = discriminator
    fake_pose, B = pose_rotmat[:, 1:], pose_rotmat.shape[0]
    with torch.autocast(device_type=pose_rotmat.device.type, enabled=False):
        real_pose, real_betas = real_poses.sample(B)
        frozen = {name: p.detach() for name, p in D.named_parameters()}
        encoder = lsgan_encoder_loss(functional_call(D, frozen, (fake_pose, betas)))
        logits = D(torch.cat([real_pose, fake_pose.detach()]), torch.cat([real_betas, betas.detach()]))
        disc = lsgan_discriminator_loss(logits[:B], logits[B:])
    return encoder, disc, discriminator_accuracy(logits[:B], logits[B:])
