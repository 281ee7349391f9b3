"""Image feature for mesh regression that carries explicit 2D joint locations from heatmaps."""
from typing import Sequence, Tuple

import torch
import torch.nn.functional as F
from mmengine.model import BaseModule
from mmpose.registry import MODELS
from torch import Tensor, nn


def soft_argmax(heatmaps: Tensor, beta: float) -> Tuple[Tensor, Tensor]:
    """Expected location and peak value of heatmaps.

    Args:
        heatmaps (Tensor): (B, J, h, w).
        beta (float): Softmax sharpness applied to the heatmap values.

    Returns:
        tuple: ``coords`` (B, J, 2) ``x, y`` in [-1, 1] over the crop (the ``keypoint_labels`` convention of
        :class:`SMPLLabelCodec`, pixel centres at ``(i + 0.5) / w * 2 - 1``) and ``peak`` (B, J), the maximum
        heatmap value.
    """
    B, J, h, w = heatmaps.shape
    prob = F.softmax(heatmaps.float().reshape(B, J, -1) * beta, dim=-1).reshape(B, J, h, w)
    xs = (torch.arange(w, device=heatmaps.device, dtype=prob.dtype) + 0.5) / w * 2 - 1
    ys = (torch.arange(h, device=heatmaps.device, dtype=prob.dtype) + 0.5) / h * 2 - 1
    coords = torch.stack([(prob.sum(2) * xs).sum(-1), (prob.sum(3) * ys).sum(-1)], dim=-1)
    return coords, heatmaps.float().flatten(2).max(-1).values


@MODELS.register_module()
class KeypointHeatmapNeck(BaseModule):
    """Predicts 2D joint heatmaps from a spatial backbone map and builds the mesh regressor's feature from the
    joints' soft-argmax locations and peak values (embedded by an MLP) and the globally pooled last feature
    (projected to fewer channels).

    Global average pooling (HMR's feature) discards where each body part lies in the crop. Heatmaps are
    learned quickly from dense 2D supervision (``KeypointHeatmapAuxHead`` computes their loss on the first
    output of this neck); their locations give the mesh regressor the 2D pose explicitly, so it learns to
    lift it to 3D (orientation included, where left and right parts look different) instead of recovering
    the layout from channel statistics. The joints go through their own MLP and the pooled feature is
    projected down, so 72 joint numbers are not drowned among 1280 pooled channels: with the joints simply
    concatenated to the pooled feature, the regressor's training error stayed on the plateau of an
    image-independent prediction (docs/experiments/learning_log.md).

    Args:
        in_channels (int): Channels of the spatial map ``feats[in_index]``.
        last_channels (int): Channels C of the last backbone output (pooled).
        num_keypoints (int): Joints J. Defaults to 24.
        in_index (int): Backbone output used for the heatmaps. Defaults to 0.
        deconv_out_channels (Sequence[int]): 4x4 stride-2 deconvolution widths. Defaults to (64, ).
        beta (float): Soft-argmax sharpness. Defaults to 20.
        keypoint_embed_channels (int): Width of the two-layer joint MLP. Defaults to 512.
        pooled_channels (int): Width the pooled last feature is projected to. Defaults to 256.
        init_cfg (dict, optional): MMEngine init config.

    Note:
        - batch size: B; joints: J; output feature width ``keypoint_embed_channels + pooled_channels``.
    """

    def __init__(self,
                 in_channels: int,
                 last_channels: int,
                 num_keypoints: int = 24,
                 in_index: int = 0,
                 deconv_out_channels: Sequence[int] = (64, ),
                 beta: float = 20.0,
                 keypoint_embed_channels: int = 512,
                 pooled_channels: int = 256,
                 init_cfg=None) -> None:
        super().__init__(init_cfg)
        layers, width = [], in_channels
        for out in deconv_out_channels:
            layers += [nn.ConvTranspose2d(width, out, 4, stride=2, padding=1, bias=False), nn.BatchNorm2d(out),
                       nn.ReLU(inplace=True)]
            width = out
        layers.append(nn.Conv2d(width, num_keypoints, 1))
        self.heatmap = nn.Sequential(*layers)
        self.in_index = in_index
        self.beta = beta
        self.keypoint_embed = nn.Sequential(
            nn.Linear(3 * num_keypoints, keypoint_embed_channels), nn.ReLU(inplace=True),
            nn.Linear(keypoint_embed_channels, keypoint_embed_channels), nn.ReLU(inplace=True))
        self.pooled_proj = nn.Sequential(nn.Linear(last_channels, pooled_channels), nn.ReLU(inplace=True))
        self.out_channels = keypoint_embed_channels + pooled_channels

    def forward(self, feats: Tuple[Tensor, ...]) -> Tuple[Tensor, Tensor]:
        """Args:
            feats (tuple[Tensor]): Backbone outputs; ``feats[in_index]`` (B, C_s, H_s, W_s) and the last
                (B, C, H, W).

        Returns:
            tuple: ``heatmaps`` (B, J, h, w) and the feature (B, keypoint_embed_channels + pooled_channels):
            the embedding of the joint coordinates (J x 2, in [-1, 1]) and peak values (J), then the
            projected pooled last output.
        """
        heatmaps = self.heatmap(feats[self.in_index])
        coords, peak = soft_argmax(heatmaps, self.beta)
        joints = torch.cat([coords.flatten(1), peak], dim=1).to(feats[-1].dtype)
        vec = torch.cat([self.keypoint_embed(joints), self.pooled_proj(feats[-1].mean(dim=(2, 3)))], dim=1)
        return heatmaps, vec
