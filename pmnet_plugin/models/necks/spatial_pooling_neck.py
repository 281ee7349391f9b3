"""Pooled image feature that keeps where things are in the crop."""
from typing import Tuple

import torch
from mmengine.model import BaseModule
from torch import Tensor, nn

from mmpose.registry import MODELS


@MODELS.register_module()
class SpatialPoolingNeck(BaseModule):
    """Global average pooling plus a coarse spatial grid of reduced channels, concatenated.

    Global average pooling (HMR's feature) discards where each body part lies in the crop; a regressor must
    then recover the layout from channel statistics alone. This neck appends a ``grid x grid`` map of
    ``reduced_channels`` 1x1-projected channels (flattened), so the feature keeps the layout at low cost.
    Earlier backbone outputs pass through unchanged (for auxiliary heads on spatial maps).

    Args:
        in_channels (int): Channels C of the last backbone output.
        reduced_channels (int): Channels r of the 1x1 projection. Defaults to 32.
        grid (int): Side g of the adaptive-average-pooled grid. Defaults to 4.
        init_cfg (dict, optional): MMEngine init config.

    Note:
        - batch size: B; output feature width: ``C + r * g * g``
    """

    def __init__(self, in_channels: int, reduced_channels: int = 32, grid: int = 4, init_cfg=None) -> None:
        super().__init__(init_cfg)
        self.in_channels = in_channels
        self.grid = grid
        self.reduce = nn.Sequential(nn.AdaptiveAvgPool2d(grid), nn.Conv2d(in_channels, reduced_channels, 1),
                                    nn.BatchNorm2d(reduced_channels), nn.ReLU(inplace=True))
        self.out_channels = in_channels + reduced_channels * grid * grid

    def forward(self, feats: Tuple[Tensor, ...]) -> Tuple[Tensor, ...]:
        """Args:
            feats (tuple[Tensor]): Backbone outputs; the last is (B, C, H, W).

        Returns:
            tuple[Tensor]: The other outputs unchanged, then the feature (B, C + r * g * g).
        """
        x = feats[-1]
        vec = torch.cat([x.mean(dim=(2, 3)), self.reduce(x).flatten(1)], dim=1)
        return (*feats[:-1], vec)
