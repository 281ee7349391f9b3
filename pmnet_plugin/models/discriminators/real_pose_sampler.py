"""Random batches of real (mocap) SMPL parameters for the adversarial prior."""
from typing import Tuple

import torch
from torch import Tensor, nn

from pmnet_plugin.prototypes.io import load_pose_source
from pmnet_plugin.utils.rotation import axis_angle_to_matrix


class RealPoseSampler(nn.Module):
    """Holds a pose library in (non-persistent) buffers and samples batches from it.

    HMR's discriminator sees real mocap poses (CMU, H3.6M) and shapes; we read any file
    :func:`~pmnet_plugin.prototypes.io.load_pose_source` reads: a pose library
    (``poses`` (N, 72) axis-angle, e.g. ``data/mocap/pose_library.npz`` from
    ``tools/prepare_mocap.py``, optional ``betas``) or a HumanData npz (``smpl`` dict; frames
    without SMPL dropped). The buffers follow ``model.to(device)`` but are not saved in
    checkpoints (they are data, reloaded from the file).

    Args:
        real_pose_file (str): The ``.npz`` file.
        num_betas (int): Betas per sample. Defaults to 10.

    Note:
        - library size: N
        - batch size: B
    """

    def __init__(self, real_pose_file: str, num_betas: int = 10):
        super().__init__()
        src = load_pose_source(real_pose_file)
        poses = torch.as_tensor(src['poses'], dtype=torch.float32).reshape(len(src['poses']), -1)
        if poses.shape[0] == 0 or poses.shape[1] != 72:
            raise ValueError(f'RealPoseSampler: {real_pose_file} must hold poses (N>0, 72), got '
                             f'{tuple(poses.shape)}')
        self.num_betas = num_betas
        self.register_buffer('body_pose', poses[:, 3:].reshape(-1, 23, 3), persistent=False)
        betas = src.get('betas')
        self.has_betas = betas is not None and betas.shape[-1] >= num_betas
        if self.has_betas:
            betas = torch.as_tensor(betas, dtype=torch.float32)[:, :num_betas]
            self.register_buffer('betas', betas, persistent=False)

    def __len__(self) -> int:
        return self.body_pose.shape[0]

    def sample(self, batch_size: int) -> Tuple[Tensor, Tensor]:
        """Draw ``batch_size`` library entries uniformly with replacement.

        Betas come from the file when it has them (same entries), else from N(0, I), the SMPL
        shape prior (our choice; HMR samples real shapes with its poses).

        Returns:
            tuple: Body-joint rotation matrices (B, 23, 3, 3) and betas (B, 10).
        """
        device = self.body_pose.device
        idx = torch.randint(len(self), (batch_size, ), device=device)
        pose = axis_angle_to_matrix(self.body_pose[idx])
        if self.has_betas:
            return pose, self.betas[idx]
        return pose, torch.randn(batch_size, self.num_betas, device=device)
