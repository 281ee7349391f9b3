"""Iterative Error Feedback (IEF) regressor shared by HMRHead and PrototypeMemoryHead."""
from typing import Dict, List, Sequence

import torch
from mmpose.registry import MODELS
from torch import Tensor, nn


@MODELS.register_module()
class IEFRegressor(nn.Module):
    """Iterative error feedback (Kanazawa et al., HMR, CVPR 2018; Kolotouros et al., SPIN, ICCV 2019).

    At every iteration an MLP reads ``[feat, pose_rot6d, betas, cam]`` and predicts residuals that are
    added to the current estimate. Where the estimate *starts* is the caller's choice: HMR starts from
    the dataset mean pose, PM-Net from the selected prototype.

    Args:
        in_channels (int): Channels C of the pooled image feature.
        num_joints (int): Number J of SMPL joints (incl. the global orient). Defaults to 24.
        num_betas (int): Shape coefficients. Defaults to 10.
        num_cam (int): Camera parameters (weak perspective ``s, tx, ty``). Defaults to 3.
        hidden_dims (Sequence[int]): Hidden widths of the MLP. Defaults to ``(1024, 1024)`` (HMR/SPIN).
        dropout (float): Dropout after every hidden layer. Defaults to 0.5 (HMR/SPIN).
        num_iters (int): IEF iterations. Defaults to 3 (HMR/SPIN).
        activation (bool): ReLU after hidden layers (HMR's TF code; SPIN's port omits it). Defaults to True.
        out_init_gain (float): Xavier-uniform gain of the three output layers (SPIN: 0.01), so the
            first residuals are ~0 and training starts from the initial estimate.

    Note:
        - batch size: B
        - joints: J (6D rotation per joint, layout of ``docs/design.md``)
    """

    def __init__(self,
                 in_channels: int,
                 num_joints: int = 24,
                 num_betas: int = 10,
                 num_cam: int = 3,
                 hidden_dims: Sequence[int] = (1024, 1024),
                 dropout: float = 0.5,
                 num_iters: int = 3,
                 activation: bool = True,
                 out_init_gain: float = 0.01):
        super().__init__()
        if num_iters < 1:
            raise ValueError(f'IEFRegressor: num_iters must be >= 1, got {num_iters}')
        self.in_channels = in_channels
        self.num_joints = num_joints
        self.num_betas = num_betas
        self.num_cam = num_cam
        self.num_iters = num_iters
        self.out_init_gain = out_init_gain
        npose = num_joints * 6
        layers: List[nn.Module] = []
        width = in_channels + npose + num_betas + num_cam
        for hidden in hidden_dims:
            layers.append(nn.Linear(width, hidden))
            if activation:
                layers.append(nn.ReLU(inplace=True))
            layers.append(nn.Dropout(dropout))
            width = hidden
        self.mlp = nn.Sequential(*layers)
        self.dec_pose = nn.Linear(width, npose)
        self.dec_betas = nn.Linear(width, num_betas)
        self.dec_cam = nn.Linear(width, num_cam)
        self.init_weights()

    def init_weights(self) -> None:
        """Xavier-uniform init of the output layers with a small gain (SPIN)."""
        for layer in (self.dec_pose, self.dec_betas, self.dec_cam):
            nn.init.xavier_uniform_(layer.weight, gain=self.out_init_gain)
            nn.init.zeros_(layer.bias)

    def forward(self, feat: Tensor, init_pose_rot6d: Tensor, init_betas: Tensor,
                init_cam: Tensor) -> Dict[str, Tensor]:
        """Refine an initial estimate.

        Args:
            feat (Tensor): Pooled image feature, shape (B, C).
            init_pose_rot6d (Tensor): Initial pose, shape (B, J*6) or (B, J, 6).
            init_betas (Tensor): Initial shape, shape (B, 10).
            init_cam (Tensor): Initial camera, shape (B, 3).

        Returns:
            dict: ``pose_rot6d`` (B, J*6), ``betas`` (B, 10), ``cam`` (B, 3) after the last iteration,
            float32.
        """
        B = feat.shape[0]
        # the running estimate stays float32 (residuals may come out of bf16 autocast)
        pose = init_pose_rot6d.reshape(B, -1).float()
        betas = init_betas.float()
        cam = init_cam.float()
        for _ in range(self.num_iters):
            x = self.mlp(torch.cat([feat, pose.to(feat.dtype), betas.to(feat.dtype),
                                    cam.to(feat.dtype)], dim=1))
            pose = pose + self.dec_pose(x).float()
            betas = betas + self.dec_betas(x).float()
            cam = cam + self.dec_cam(x).float()
        return dict(pose_rot6d=pose, betas=betas, cam=cam)
