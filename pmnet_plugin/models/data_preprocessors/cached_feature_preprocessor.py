"""Data preprocessor that passes cached backbone outputs through and normalises images as MMPose does."""
from mmpose.models.data_preprocessors import PoseDataPreprocessor
from mmpose.registry import MODELS


@MODELS.register_module()
class CachedFeaturePreprocessor(PoseDataPreprocessor):
    """:class:`PoseDataPreprocessor` for batches that carry either images or cached backbone outputs.

    A batch of :class:`CachedFeatureDataset` has ``inputs=dict(backbone_feats=[level (B, C_l, H_l, W_l),
    ...])`` (float16 or float32); those levels only move to the device as float32, because the backbone
    that made them already saw normalised images. Image batches go through :class:`PoseDataPreprocessor`
    unchanged, so one model config trains on cached features and runs on images. The samples' labels stay
    where they are: the heads copy each label to the device once per batch.

    Args:
        **kwargs: The arguments of :class:`PoseDataPreprocessor` (``mean``, ``std``, ``bgr_to_rgb``, ...).
    """

    def forward(self, data: dict, training: bool = False) -> dict:
        inputs = data.get('inputs')
        if isinstance(inputs, dict) and 'backbone_feats' in inputs:
            feats = [self.cast_data(x).float() for x in inputs['backbone_feats']]
            return dict(inputs=dict(backbone_feats=feats), data_samples=data.get('data_samples'))
        return super().forward(data, training)
