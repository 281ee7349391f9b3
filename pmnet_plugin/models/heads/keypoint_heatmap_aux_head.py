"""Auxiliary 2D heatmap supervision on a spatial backbone feature of a mesh model."""
from typing import Dict, Optional, Sequence, Tuple

import torch
from mmpose.models.heads import HeatmapHead
from mmpose.registry import MODELS
from mmpose.utils.typing import ConfigType, OptConfigType, OptSampleList
from torch import Tensor

from pmnet_plugin.models.necks.keypoint_heatmap_neck import soft_argmax


def gaussian_heatmaps(keypoints: Tensor, weights: Tensor, size: Tuple[int, int],
                      sigma: float) -> Tuple[Tensor, Tensor]:
    """Unnormalised Gaussian heatmaps of joints given in [-1, 1] crop coordinates.

    The heatmap grid spans the crop: ``u = (x + 1) / 2 * w`` (as MMPose's ``MSRAHeatmap`` maps input px to
    heatmap px by the stride). Joints whose centre falls outside the grid get weight 0.

    Args:
        keypoints (Tensor): Joints (B, J, 2), ``x, y`` in [-1, 1] over the crop (``keypoint_labels``).
        weights (Tensor): Joint weights (B, J) (``keypoint_weights``).
        size (tuple): Heatmap ``(w, h)``.
        sigma (float): Gaussian std in heatmap px.

    Returns:
        tuple: heatmaps (B, J, h, w) with peak 1, weights (B, J).
    """
    w, h = size
    u = (keypoints[..., 0] + 1) / 2 * w - 0.5
    v = (keypoints[..., 1] + 1) / 2 * h - 0.5
    xs = torch.arange(w, device=keypoints.device, dtype=keypoints.dtype)
    ys = torch.arange(h, device=keypoints.device, dtype=keypoints.dtype)
    gx = torch.exp(-(xs[None, None] - u[..., None])**2 / (2 * sigma**2))  # (B, J, w)
    gy = torch.exp(-(ys[None, None] - v[..., None])**2 / (2 * sigma**2))  # (B, J, h)
    inside = (u >= -0.5) & (u <= w - 0.5) & (v >= -0.5) & (v <= h - 0.5)
    return gy[..., :, None] * gx[..., None, :], weights * inside.to(weights.dtype)


@MODELS.register_module()
class KeypointHeatmapAuxHead(HeatmapHead):
    """2D joint heatmaps trained beside a mesh head: MMPose's :class:`HeatmapHead` with targets drawn on the
    fly from the mesh labels ``keypoint_labels`` / ``keypoint_weights`` of :class:`SMPLLabelCodec`.

    Training only: the mesh head makes every prediction. With ``deconv_out_channels=()`` and
    ``final_layer=None`` it has no layers and supervises the heatmaps of :class:`KeypointHeatmapNeck`.

    Args:
        in_channels (int): Channels of the feature ``feats[in_index]``.
        out_channels (int): Joints J. Defaults to 24 (SMPL).
        in_index (int): Which backbone output feeds the head. Defaults to 0.
        sigma (float): Gaussian std in heatmap px. Defaults to 1.5.
        deconv_out_channels (Sequence[int]): Deconvolution widths (each doubles the resolution).
        deconv_kernel_sizes (Sequence[int]): Deconvolution kernels.
        final_layer (dict, optional): The 1x1 output conv; None = the input already is the heatmaps.
        coord_loss_weight (float): Weight of ``loss_heatmap_coords``, the L1 distance between the heatmaps'
            soft-argmax locations and the labels in [-1, 1] crop units (integral regression, Sun et al.
            2018; ``docs/experiments/learning_log.md``). 0 = off. Defaults to 0.
        beta (float): Soft-argmax sharpness (use the neck's value when it feeds the mesh head). Defaults
            to 20.
        loss (dict): Heatmap loss. Defaults to ``KeypointMSELoss(use_target_weight=True)``.
        init_cfg (dict, optional): MMEngine init config.

    Note:
        - batch size: B; joints: J; heatmap: (h, w) = feature size x 2 ** len(deconv_out_channels)
    """

    def __init__(self,
                 in_channels: int,
                 out_channels: int = 24,
                 in_index: int = 0,
                 sigma: float = 1.5,
                 deconv_out_channels: Sequence[int] = (64, ),
                 deconv_kernel_sizes: Sequence[int] = (4, ),
                 final_layer: Optional[dict] = dict(kernel_size=1),
                 coord_loss_weight: float = 0.0,
                 beta: float = 20.0,
                 loss: ConfigType = dict(type='KeypointMSELoss', use_target_weight=True),
                 init_cfg: OptConfigType = None):
        super().__init__(in_channels, out_channels, deconv_out_channels=deconv_out_channels,
                         deconv_kernel_sizes=deconv_kernel_sizes, final_layer=final_layer, loss=loss,
                         init_cfg=init_cfg)
        self.in_index = in_index
        self.sigma = sigma
        self.coord_loss_weight = coord_loss_weight
        self.beta = beta

    def forward(self, feats: Tuple[Tensor]) -> Tensor:
        """Args:
            feats (Tuple[Tensor]): Backbone outputs; ``feats[in_index]`` is (B, C, H, W).

        Returns:
            Tensor: Heatmaps (B, J, h, w).
        """
        return super().forward((feats[self.in_index], ))

    def loss(self, feats: Tuple[Tensor], batch_data_samples: OptSampleList,
             train_cfg: ConfigType = {}) -> Dict[str, Tensor]:
        """Heatmap loss against Gaussians at the labelled 2D joints.

        Returns:
            dict: ``loss_heatmap`` (+ ``loss_heatmap_coords`` when ``coord_loss_weight > 0``).
        """
        pred = self.forward(feats)
        labels = [d.gt_instance_labels for d in batch_data_samples]
        keypoints = torch.stack([torch.as_tensor(x.keypoint_labels, dtype=pred.dtype) for x in labels])
        weights = torch.stack([torch.as_tensor(x.keypoint_weights, dtype=pred.dtype) for x in labels])
        keypoints = keypoints.reshape(pred.shape[0], -1, 2).to(pred.device)
        weights = weights.reshape(pred.shape[0], -1).to(pred.device)
        target, inside = gaussian_heatmaps(keypoints, weights, (pred.shape[-1], pred.shape[-2]), self.sigma)
        losses = dict(loss_heatmap=self.loss_module(pred.float(), target, inside))
        if self.coord_loss_weight > 0:
            coords, _ = soft_argmax(pred, self.beta)
            err = (coords - keypoints).abs().sum(-1)
            losses['loss_heatmap_coords'] = self.coord_loss_weight * (err * inside).sum() / inside.sum().clamp(min=1)
        return losses

    def predict(self, feats, batch_data_samples, test_cfg={}):
        """Not used: predictions come from the mesh head."""
        raise NotImplementedError('KeypointHeatmapAuxHead is a training-only auxiliary head; the mesh head '
                                  'predicts.')
