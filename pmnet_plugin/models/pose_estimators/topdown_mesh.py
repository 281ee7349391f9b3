"""Top-down mesh estimator: image crop -> backbone -> GAP neck -> SMPL head."""
from typing import Optional

import numpy as np
import torch
from mmpose.models.pose_estimators.topdown import TopdownPoseEstimator
from mmpose.registry import MODELS
from mmpose.utils.typing import (ConfigType, InstanceList, OptConfigType, OptMultiConfig,
                                 PixelDataList, SampleList)
from torch import Tensor


def _to_float32_numpy(value):
    """Tensors (incl. bf16 under AMP) -> float32 numpy; everything else unchanged."""
    if isinstance(value, Tensor):
        value = value.detach()
        if torch.is_floating_point(value):
            value = value.float()
        return value.cpu().numpy()
    return value


@MODELS.register_module()
class TopdownMeshEstimator(TopdownPoseEstimator):
    """Top-down SMPL mesh recovery (HMR / PM-Net) on MMPose's :class:`TopdownPoseEstimator`.

    ``data_preprocessor -> backbone (e.g. MMPose ResNet) -> neck (GlobalAveragePooling) -> head``
    where the head is :class:`HMRHead` or :class:`PrototypeMemoryHead` (same contract). Training
    and the constructor are inherited unchanged (``backbone``, ``neck``, ``head``, ``train_cfg``,
    ``test_cfg``, ``data_preprocessor``, ``init_cfg``, ``metainfo``). With HMR's adversarial
    prior on (``MeshLoss(use_adversarial=True)``) the discriminator lives in the head's loss module
    and is updated by the same optim-wrapper step: its loss only reaches its own parameters and the
    encoder's adversarial loss only the encoder (``docs/model.md``), so no ``train_step`` override.

    ``test_cfg`` keys read by the head: ``output_vertices``, ``output_rarity`` (default True).
    Flip test is not supported (``test_cfg.flip_test=True`` raises): flipping a mesh prediction
    needs SMPL pose mirroring, and the paper reports single-pass results.

    ``predict`` maps the head's ``keypoints`` (input px) to image px with the sample's
    ``input_center`` / ``input_scale`` / ``input_size`` (as MMPose does) and stores every
    prediction field as float32 numpy in ``pred_instances`` (bf16 AMP safe): ``keypoints``,
    ``keypoint_scores``, ``keypoints_visible``, ``keypoints_3d``, ``smpl_pose``, ``smpl_betas``,
    ``cam``, ``vertices`` (when requested), ``rarity``/``rarity_percentile`` (pose rarity,
    ``pmnet_plugin.models.rarity``), ``proto_id``/``proto_score`` and
    ``proto_nearest_id``/``proto_nearest_dist`` (PM-Net),
    plus ``bboxes``/``bbox_scores`` copied from ``gt_instances`` when present.

    Args:
        aux_head (dict, optional): A training-only head on the same features (e.g.
            :class:`KeypointHeatmapAuxHead`, dense 2D supervision); its ``loss_*`` terms are added to the
            mesh head's. It makes no predictions. Defaults to None.
        Other arguments: those of MMPose's :class:`TopdownPoseEstimator`.
    """

    def __init__(self,
                 backbone: ConfigType,
                 neck: OptConfigType = None,
                 head: OptConfigType = None,
                 aux_head: OptConfigType = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None,
                 metainfo: Optional[dict] = None):
        super().__init__(backbone=backbone, neck=neck, head=head, train_cfg=train_cfg, test_cfg=test_cfg,
                         data_preprocessor=data_preprocessor, init_cfg=init_cfg, metainfo=metainfo)
        self.aux_head = MODELS.build(aux_head) if aux_head is not None else None

    def loss(self, inputs: Tensor, data_samples: SampleList) -> dict:
        """Mesh-head losses plus the auxiliary head's.

        Args:
            inputs (Tensor): Crops, shape (B, 3, H, W).
            data_samples (List[PoseDataSample]): With ``gt_instance_labels``.

        Returns:
            dict: Loss terms (and logged accuracies / errors).
        """
        feats = self.extract_feat(inputs)
        losses = self.head.loss(feats, data_samples, train_cfg=self.train_cfg)
        if self.aux_head is not None:
            losses.update(self.aux_head.loss(feats, data_samples, train_cfg=self.train_cfg))
        return losses

    def predict(self, inputs: Tensor, data_samples: SampleList) -> SampleList:
        """Predict meshes for a batch of crops.

        Args:
            inputs (Tensor): Crops, shape (B, 3, H, W).
            data_samples (List[PoseDataSample]): With metainfo ``input_center``,
                ``input_scale``, ``input_size``.

        Returns:
            List[PoseDataSample]: The samples with ``pred_instances`` set.
        """
        if self.test_cfg.get('flip_test', False):
            raise NotImplementedError('TopdownMeshEstimator: flip_test is not supported for mesh '
                                      'heads; set test_cfg.flip_test=False.')
        feats = self.extract_feat(inputs)
        preds = self.head.predict(feats, data_samples, test_cfg=self.test_cfg)
        return self.add_pred_to_datasample(preds, None, data_samples)

    def add_pred_to_datasample(self, batch_pred_instances: InstanceList,
                               batch_pred_fields: Optional[PixelDataList],
                               batch_data_samples: SampleList) -> SampleList:
        """Map keypoints to image px and attach predictions.

        Args:
            batch_pred_instances (List[InstanceData]): Head outputs, ``keypoints`` (1, J, 2) in
                input px.
            batch_pred_fields (List[PixelData], optional): Unused (no heatmaps).
            batch_data_samples (List[PoseDataSample]): The batch.

        Returns:
            List[PoseDataSample]: ``batch_data_samples`` with ``pred_instances``.
        """
        return attach_mesh_predictions(batch_pred_instances, batch_data_samples)


def attach_mesh_predictions(batch_pred_instances: InstanceList,
                            batch_data_samples: SampleList) -> SampleList:
    """Maps head keypoints from input px to image px and attaches the predictions (float32 numpy).

    The body of :meth:`TopdownMeshEstimator.add_pred_to_datasample`, shared with the ONNX Runtime
    backend of ``pmnet_plugin.apis``.

    Args:
        batch_pred_instances (List[InstanceData]): Head outputs, ``keypoints`` (1, J, 2) in input px.
        batch_data_samples (List[PoseDataSample]): The batch (metainfo ``input_center``,
            ``input_scale``, ``input_size``).

    Returns:
        List[PoseDataSample]: ``batch_data_samples`` with ``pred_instances``.
    """
    assert len(batch_pred_instances) == len(batch_data_samples)
    preds = list(batch_pred_instances)
    for pred in preds:  # the head's arrays are float32 numpy already; other producers may give tensors
        for key, value in list(pred.all_items()):
            if isinstance(value, Tensor):
                pred.set_field(_to_float32_numpy(value), key)
    # input px -> image px for the whole batch at once: x * scale / size + center - scale / 2 (samples
    # without the crop metainfo keep input px)
    counts = [len(p.keypoints) for p in preds]
    keypoints = np.concatenate([np.asarray(p.keypoints, np.float32) for p in preds]) if preds else None
    gain, offset = [], []
    for sample in batch_data_samples:
        meta = sample.metainfo
        if all(k in meta for k in ('input_center', 'input_scale', 'input_size')):
            size, scale, center = (np.asarray(meta[k], np.float32).reshape(-1)[:2]
                                   for k in ('input_size', 'input_scale', 'input_center'))
            gain.append(scale / size)
            offset.append(center - 0.5 * scale)
        else:
            gain.append(np.ones(2, np.float32))
            offset.append(np.zeros(2, np.float32))
    if preds:
        gain, offset = np.repeat(np.stack(gain), counts, 0), np.repeat(np.stack(offset), counts, 0)
        keypoints[..., :2] = keypoints[..., :2] * gain[:, None] + offset[:, None]
    start = 0
    for pred, sample, n in zip(preds, batch_data_samples, counts):
        pred.set_field(keypoints[start:start + n], 'keypoints')
        start += n
        if 'keypoints_visible' not in pred:
            pred.set_field(pred.keypoint_scores, 'keypoints_visible')
        if 'gt_instances' in sample:
            gt = sample.gt_instances
            for key in ('bboxes', 'bbox_scores'):
                if key in gt:
                    pred.set_field(_to_float32_numpy(gt.get(key)), key)
        sample.pred_instances = pred
    return batch_data_samples
