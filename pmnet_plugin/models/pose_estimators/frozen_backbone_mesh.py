"""Top-down mesh estimator whose backbone is frozen, so that its outputs can be computed once and cached."""
from typing import Tuple, Union

import torch
from mmpose.registry import MODELS
from torch import Tensor

from .topdown_mesh import TopdownMeshEstimator


@MODELS.register_module()
class FrozenBackboneMeshEstimator(TopdownMeshEstimator):
    """:class:`TopdownMeshEstimator` with a frozen backbone (no gradients, BatchNorm in eval mode).

    The neck, the mesh head and the auxiliary head train as in the end-to-end model. ``inputs`` are images
    (B, 3, H, W), run through the backbone, or ``dict(backbone_feats=[level (B, C_l, H_l, W_l), ...])``,
    the backbone's outputs cached beforehand (:class:`CachedFeatureDataset`), which skips the backbone:
    the regression-head protocol of Balanced MSE's HMR experiments, where most of a training step is the
    backbone. Checkpoints hold every module, so a model trained on cached features runs on images with
    the ``TopdownMeshEstimator`` config of the same weights.

    Args:
        Those of :class:`TopdownMeshEstimator`.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.backbone.requires_grad_(False)

    def train(self, mode: bool = True) -> 'FrozenBackboneMeshEstimator':
        super().train(mode)
        self.backbone.eval()
        return self

    @torch.no_grad()
    def backbone_features(self, inputs: Tensor) -> Tuple[Tensor, ...]:
        """The frozen backbone's outputs for images (B, 3, H, W): the levels a feature cache stores."""
        feats = self.backbone(inputs)
        return tuple(feats) if isinstance(feats, (list, tuple)) else (feats, )

    def extract_feat(self, inputs: Union[Tensor, dict]) -> Tuple[Tensor, ...]:
        """Neck features from images or from cached backbone outputs (see the class docstring)."""
        if isinstance(inputs, dict):
            feats = tuple(inputs['backbone_feats'])
        else:
            feats = self.backbone_features(inputs)
        return self.neck(feats) if self.with_neck else feats
