"""HMR / SPIN baseline head: IEF regression of SMPL from the mean pose."""
from typing import Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.structures import InstanceData
from mmpose.models.heads.base_head import BaseHead
from mmpose.registry import KEYPOINT_CODECS, MODELS
from mmpose.utils.typing import ConfigType, OptConfigType, OptSampleList
from torch import Tensor, nn

from pmnet_plugin.codecs.smpl_label import SMPLLabelCodec
from pmnet_plugin.models.body_models.smpl_io import load_mean_params
from pmnet_plugin.models.losses.mesh_losses import root_relative
from pmnet_plugin.models.rarity import PoseRarityScorer
from pmnet_plugin.utils.rotation import (axis_angle_to_matrix, matrix_to_axis_angle,
                                         matrix_to_rot6d, rot6d_to_matrix)
from .ief_regressor import IEFRegressor
from .mesh_outputs import outputs_to_host, outputs_to_instances, stack_label

DEFAULT_BODY_MODEL = dict(
    type='SMPLBodyModel',
    model_path='data/body_models/smpl/SMPL_NEUTRAL.pkl',
    joint_regressor_h36m='data/body_models/J_regressor_h36m.npy')
NUM_JOINTS = 24


def _fallback_mean_params() -> Dict[str, np.ndarray]:
    """Mean params used when no file is given: rest body, upright facing the camera."""
    rot = torch.eye(3).repeat(NUM_JOINTS, 1, 1)
    rot[0] = axis_angle_to_matrix(torch.tensor([np.pi, 0.0, 0.0]))
    return dict(pose_rot6d=matrix_to_rot6d(rot).numpy(), betas=np.zeros(10, np.float32),
                cam=np.array([0.9, 0.0, 0.0], np.float32))


def _to_tensor(x, device) -> Tensor:
    return torch.as_tensor(np.asarray(x) if not isinstance(x, Tensor) else x,
                           dtype=torch.float32, device=device)


@MODELS.register_module()
class HMRHead(BaseHead):
    """HMR baseline head (Kanazawa et al. 2018) in SPIN's form (Kolotouros et al. 2019).

    :class:`IEFRegressor` refines SMPL parameters starting from the dataset mean; the body model gives
    joints and vertices, projected into the crop with the weak-perspective ``cam``. The keypoint losses
    compare the labels with the same joint set regressed from the predicted mesh (``docs/model.md``).

    Args:
        in_channels (int): Channels C of the pooled feature. Defaults to 2048.
        body_model (dict | nn.Module): ``SMPLBodyModel`` config or a built module.
        mean_params (str, optional): SPIN ``smpl_mean_params.npz``; ``None``: rest pose facing the camera.
        num_iters (int): IEF iterations. Defaults to 3.
        hidden_dims (Sequence[int]): IEF MLP widths. Defaults to (1024, 1024).
        dropout (float): IEF dropout. Defaults to 0.5.
        activation (bool): ReLU in the IEF MLP. Defaults to True.
        out_init_gain (float): Xavier gain of the IEF output layers. Defaults to 0.01.
        input_size (tuple): (W, H) of the crop. Defaults to (224, 224).
        decoder (dict, optional): Codec decoding the 2D joints; ``None``: ``SMPLLabelCodec(input_size)``.
        joint_set (str, optional): Require this label joint set; ``None``: the samples' own.
        loss (dict): Loss config. Defaults to ``dict(type='MeshLoss')``.
        rarity_file (str, optional): Prototype file with rarity quantiles (:class:`PoseRarityScorer`).
        init_cfg (dict, optional): MMEngine init config.

    Note:
        - batch size: B;  joints of the label set: J (24 for ``'smpl'``);  vertices: V
    """

    def __init__(self,
                 in_channels: int = 2048,
                 body_model: Union[ConfigType, nn.Module] = DEFAULT_BODY_MODEL,
                 mean_params: Optional[str] = 'data/body_models/smpl_mean_params.npz',
                 num_iters: int = 3,
                 hidden_dims: Sequence[int] = (1024, 1024),
                 dropout: float = 0.5,
                 activation: bool = True,
                 out_init_gain: float = 0.01,
                 input_size: Tuple[int, int] = (224, 224),
                 decoder: OptConfigType = None,
                 joint_set: Optional[str] = None,
                 loss: ConfigType = dict(type='MeshLoss'),
                 rarity_file: Optional[str] = None,
                 init_cfg: OptConfigType = None):
        super().__init__(init_cfg)
        self.in_channels = in_channels
        self.input_size = tuple(input_size)
        self.decoder = (SMPLLabelCodec(input_size=self.input_size) if decoder is None else
                        KEYPOINT_CODECS.build(decoder))
        if tuple(self.decoder.input_size) != self.input_size:
            raise ValueError(f'{type(self).__name__}: decoder input_size {tuple(self.decoder.input_size)} '
                             f'differs from model.head.input_size {self.input_size}; use the codec\'s for both')
        self.joint_set = joint_set
        self.body_model = body_model if isinstance(body_model, nn.Module) else MODELS.build(body_model)
        self.loss_module = MODELS.build(loss)
        mean = _fallback_mean_params() if mean_params is None else load_mean_params(mean_params)
        self.register_buffer('init_pose_rot6d', _to_tensor(mean['pose_rot6d'], 'cpu').reshape(1, -1))
        self.register_buffer('init_betas', _to_tensor(mean['betas'], 'cpu').reshape(1, -1))
        self.register_buffer('init_cam', _to_tensor(mean['cam'], 'cpu').reshape(1, -1))
        self.rarity_scorer = PoseRarityScorer(rarity_file, mean['pose_rot6d'], mean['betas'])
        self.regressor = IEFRegressor(
            in_channels, num_joints=NUM_JOINTS, num_betas=self.init_betas.shape[1],
            hidden_dims=hidden_dims, dropout=dropout, num_iters=num_iters,
            activation=activation, out_init_gain=out_init_gain)

    # ------------------------------------------------------------------ forward
    def _pool(self, feats: Union[Tensor, Sequence[Tensor]]) -> Tensor:
        """Take the last feature, average-pool it if spatial, and check its channels."""
        feat = feats[-1] if isinstance(feats, (list, tuple)) else feats
        if feat.dim() == 4:
            feat = feat.mean(dim=(2, 3))
        if feat.dim() != 2 or feat.shape[1] != self.in_channels:
            raise ValueError(
                f'{type(self).__name__}: `in_channels`={self.in_channels} (model.head.in_channels) '
                f'does not match the backbone/neck feature of shape {tuple(feat.shape)}; set '
                f'model.head.in_channels={feat.shape[-1] if feat.dim() == 2 else feat.shape[1]}.')
        return feat

    def _initial_estimate(self, feat: Tensor) -> Dict[str, Tensor]:
        """Starting point of IEF: the mean parameters (HMR/SPIN).

        Args:
            feat (Tensor): Pooled feature (B, C).

        Returns:
            dict: ``pose_rot6d`` (B, 24*6), ``betas`` (B, 10), ``cam`` (B, 3) (+ subclass extras).
        """
        B = feat.shape[0]
        return dict(pose_rot6d=self.init_pose_rot6d.expand(B, -1), betas=self.init_betas.expand(B, -1),
                    cam=self.init_cam.expand(B, -1))

    def forward(self, feats: Tuple[Tensor]) -> Dict[str, Tensor]:
        """Regress SMPL parameters.

        Args:
            feats (Tuple[Tensor]): Multi-level features; the last is used, shape (B, C) or
                (B, C, H, W).

        Returns:
            dict: ``smpl_pose_rotmat`` (B, 24, 3, 3), ``smpl_betas`` (B, 10), ``cam`` (B, 3)
            (+ subclass extras).
        """
        return self._forward_from_init(self._pool(feats), None)

    def _forward_from_init(self, feat: Tensor, init: Optional[Dict[str, Tensor]]) -> Dict[str, Tensor]:
        init = self._initial_estimate(feat) if init is None else init
        out = self.regressor(feat, init['pose_rot6d'], init['betas'], init['cam'])
        B = feat.shape[0]
        preds = dict(
            smpl_pose_rotmat=rot6d_to_matrix(out['pose_rot6d'].float().reshape(B, NUM_JOINTS, 6)),
            smpl_betas=out['betas'].float(),
            cam=out['cam'].float())
        preds.update({k: v for k, v in init.items() if k not in ('pose_rot6d', 'betas', 'cam')})
        return preds

    # ------------------------------------------------------------------ geometry
    def run_body_model(self, pose: Tensor, betas: Tensor, vertices: bool = True,
                       regressed: bool = True) -> Dict[str, Tensor]:
        """Run the body model in float32 (outside autocast).

        Args:
            pose (Tensor): Rotation matrices (B, 24, 3, 3).
            betas (Tensor): Shape (B, 10).
            vertices (bool): Compute the mesh. Defaults to True.
            regressed (bool): Compute the points regressed from the mesh. Defaults to True.

        Returns:
            dict: The body model's outputs (``joints`` (B, 24, 3), ``vertices`` (B, V, 3), ...).
        """
        with torch.autocast(device_type=pose.device.type, enabled=False):
            pose = pose.float()
            return self.body_model(betas=betas.float(), body_pose=pose[:, 1:], global_orient=pose[:, :1],
                                   vertices=vertices, regressed=regressed)

    @staticmethod
    def project(points: Tensor, cam: Tensor) -> Tensor:
        """Weak-perspective projection to [-1, 1] crop coordinates (``docs/design.md``).

        Args:
            points (Tensor): M 3D points (joints, vertices) in the body-model frame, shape (B, M, 3).
            cam (Tensor): ``(s, tx, ty)``, shape (B, 3).

        Returns:
            Tensor: Shape (B, M, 2).
        """
        return cam[:, None, :1] * (points[..., :2] + cam[:, None, 1:])

    # ------------------------------------------------------------------ training
    def batch_joint_set(self, batch_data_samples: OptSampleList) -> str:
        """The joint set of the batch's labels (``joint_set`` metainfo; ``'smpl'`` when absent)."""
        sets = {str(d.metainfo.get('joint_set', 'smpl')) for d in batch_data_samples}
        if len(sets) != 1 or (self.joint_set is not None and sets != {self.joint_set}):
            want = f' ({self.joint_set!r}, model.head.joint_set)' if self.joint_set else ''
            raise ValueError(f'{type(self).__name__}: the batch carries joint sets {sorted(sets)}, '
                             f'expected one{want}; give every dataset of the mix the same joint_set')
        return sets.pop()

    def gather_targets(self, batch_data_samples: OptSampleList, device,
                       num_joints: int = NUM_JOINTS) -> Dict[str, Tensor]:
        """Stack the ``gt_instance_labels`` of the batch (first instance of each sample).

        The labels keep the names :class:`SMPLLabelCodec` packs them under; ``smpl_pose_rotmat`` is derived
        from ``smpl_pose``. Each label is stacked where it lies (NumPy arrays from ``mesh_collate`` on the
        host, tensors where the data preprocessor moved them) and reaches ``device`` in one copy. Missing
        labels give zero tensors with zero weights, so the matching loss is 0; a missing
        ``keypoints_3d_root`` means joint 0 (SMPL's pelvis in the ``'smpl'`` set).

        Args:
            batch_data_samples (list[PoseDataSample]): With ``gt_instance_labels``.
            device: Target device.
            num_joints (int): J, the joints of the batch's joint set. Defaults to 24.

        Returns:
            dict: ``keypoint_labels`` (B, J, 2), ``keypoint_weights`` (B, J), ``keypoints_3d`` (B, J, 3),
            ``keypoints_3d_weights`` (B, J), ``keypoints_3d_root`` (B, J), ``smpl_pose`` (B, 72),
            ``smpl_pose_rotmat`` (B, 24, 3, 3), ``smpl_betas`` (B, 10), ``has_smpl`` (B,).
        """
        J, B = num_joints, len(batch_data_samples)
        specs = dict(keypoint_labels=(J, 2), keypoint_weights=(J, ), keypoints_3d=(J, 3),
                     keypoints_3d_weights=(J, ), keypoints_3d_root=(J, ),
                     smpl_pose=(NUM_JOINTS * 3, ), smpl_betas=(self.init_betas.shape[1], ),
                     has_smpl=())
        labels = [d.gt_instance_labels for d in batch_data_samples]
        t, found = {}, {}
        for name, shape in specs.items():
            values = [lab.get(name) for lab in labels]  # None where missing
            found[name] = [v is not None for v in values]
            t[name] = stack_label(values, (B, ) + shape, device)
        # a missing label zeroes its weight; a missing root is joint 0
        for name, weight in (('keypoints_3d', 'keypoints_3d_weights'), ('keypoint_labels', 'keypoint_weights'),
                             ('smpl_pose', 'has_smpl')):
            if not all(found[name]):
                mask = torch.tensor(found[name], dtype=torch.float32, device=device)
                t[weight] = t[weight] * mask.reshape((B, ) + (1, ) * (t[weight].dim() - 1))
        if not all(found['keypoints_3d_root']):
            missing = torch.tensor([not f for f in found['keypoints_3d_root']], device=device)
            t['keypoints_3d_root'][missing, 0] = 1.0
        t['smpl_pose_rotmat'] = axis_angle_to_matrix(t['smpl_pose'].reshape(-1, NUM_JOINTS, 3))
        return t

    def _forward_for_loss(self, feat: Tensor, targets: Dict[str, Tensor]) -> Tuple[Dict[str, Tensor], ...]:
        """Hook: the forward used by :meth:`loss` and the subclass's own loss inputs (HMR has none).

        Args:
            feat (Tensor): Pooled feature (B, C).
            targets (dict): :meth:`gather_targets` of the batch.

        Returns:
            tuple: The outputs of :meth:`forward`, extra ``pred`` entries and extra ``target`` entries
            for the loss module.
        """
        return self._forward_from_init(feat, None), {}, {}

    def loss(self, feats: Tuple[Tensor], batch_data_samples: OptSampleList,
             train_cfg: ConfigType = {}) -> dict:
        """Compute ``loss_*`` terms (see :class:`MeshLoss`) and ``mpjpe`` (mm, for logs).

        Keypoint terms run over the joints of the batch's joint set regressed from the predicted mesh;
        label weights of joints without a source on this body model are zeroed (a warning at the
        first batch names them and the missing file).

        Args:
            feats (Tuple[Tensor]): Features; the last (B, C) is used.
            batch_data_samples (List[PoseDataSample]): With ``gt_instance_labels``.
            train_cfg (dict): Unused.

        Returns:
            dict: Loss scalars and ``mpjpe``.
        """
        feat = self._pool(feats)
        joint_set = self.batch_joint_set(batch_data_samples)
        regressor = self.body_model.joint_set_regressor(joint_set)
        targets = self.gather_targets(batch_data_samples, feat.device, regressor.num_joints)
        for key in ('keypoint_weights', 'keypoints_3d_weights'):  # joints the mesh lacks
            targets[key] = targets[key] * regressor.available
        preds, extra_pred, extra_target = self._forward_for_loss(feat, targets)
        # the mesh only where a loss term uses it: the vertex term, or joints regressed from it
        with_vertices = self.loss_module.needs_gt_vertices
        body = self.run_body_model(preds['smpl_pose_rotmat'], preds['smpl_betas'], vertices=with_vertices,
                                   regressed=regressor.needs_mesh_points)
        joints, _ = self.body_model.regress_joint_set(body, joint_set)
        pred = dict(keypoint_labels=self.project(joints, preds['cam']), keypoints_3d=joints,
                    smpl_pose_rotmat=preds['smpl_pose_rotmat'], smpl_betas=preds['smpl_betas'],
                    cam=preds['cam'], **extra_pred)
        if with_vertices:
            pred['vertices'] = body['vertices']
            with torch.no_grad():
                targets['vertices'] = self.run_body_model(targets['smpl_pose_rotmat'], targets['smpl_betas'],
                                                          regressed=False)['vertices']
        targets.update(extra_target)
        losses = self.loss_module(pred, targets)
        with torch.no_grad():
            root = targets['keypoints_3d_root']
            err = torch.linalg.norm(root_relative(pred['keypoints_3d'], root)
                                    - root_relative(targets['keypoints_3d'], root), dim=-1)
            w = targets['keypoints_3d_weights']
            losses['mpjpe'] = (err * w).sum() / w.sum().clamp(min=1) * 1000.0
        return losses

    # ------------------------------------------------------------------ inference
    def predict_outputs(self, feats: Tuple[Tensor], test_cfg: ConfigType = {},
                        init: Optional[Dict[str, Tensor]] = None) -> Dict[str, Tensor]:
        """The batched tensors behind :meth:`predict` (traceable; ``tools/export_onnx.py`` exports it).

        Args:
            feats (Tuple[Tensor]): Features; the last (B, C) is used.
            test_cfg (dict): ``output_vertices`` (bool, default True): the mesh; ``output_rarity`` (bool,
                default True): the pose rarity (a second body-model pass, on the canonical pose) and the
                subclass's where-in-memory extras.
            init (dict, optional): The IEF starting point (:meth:`_initial_estimate`'s keys); ``None``:
                the head's own.

        Returns:
            dict: ``keypoints_crop`` (B, 24, 2) in [-1, 1] over the crop, ``keypoints_3d`` (B, 24, 3)
            root-relative metres, ``smpl_pose`` (B, 72), ``smpl_betas`` (B, 10), ``cam`` (B, 3),
            ``vertices`` (B, V, 3) body-model frame, ``keypoints_3d_h36m`` (B, 17, 3) when the body model
            has an H36M regressor, ``rarity`` (B,) mm and ``rarity_percentile`` (B,)
            (:class:`PoseRarityScorer`), and subclass extras.
        """
        feat = self._pool(feats)
        preds = self._forward_from_init(feat, self._test_init(feats, feat) if init is None else init)
        body = self.run_body_model(preds['smpl_pose_rotmat'], preds['smpl_betas'],
                                   vertices=test_cfg.get('output_vertices', True))
        joints = body['joints'][:, :NUM_JOINTS].float()
        B = joints.shape[0]
        out = dict(
            keypoints_crop=self.project(joints, preds['cam']),
            keypoints_3d=joints - joints[:, :1],
            smpl_pose=matrix_to_axis_angle(preds['smpl_pose_rotmat']).reshape(B, -1),
            smpl_betas=preds['smpl_betas'], cam=preds['cam'])
        if 'vertices' in body:
            out['vertices'] = body['vertices']
        if body.get('joints_h36m') is not None:
            h36m = body['joints_h36m'].float()
            out['keypoints_3d_h36m'] = h36m - h36m[:, :1]
        with_rarity = test_cfg.get('output_rarity', True)
        if with_rarity:
            out.update(self.rarity_scorer(self.body_model, preds['smpl_pose_rotmat'], self.init_pose_rot6d,
                                          self.init_betas))
        out.update(self._predict_extras(preds, with_rarity))
        return out

    def predict(self, feats: Tuple[Tensor], batch_data_samples: OptSampleList,
                test_cfg: ConfigType = {}) -> List[InstanceData]:
        """Predict SMPL, joints, (optionally) vertices and the pose rarity; every array is float32 numpy.

        Args:
            feats (Tuple[Tensor]): Features; the last (B, C) is used. No flip test (a mesh head
                would need SMPL pose flipping; not needed for the paper's protocol).
            batch_data_samples (List[PoseDataSample]): For ``input_size`` metainfo.
            test_cfg (dict): See :meth:`predict_outputs`.

        Returns:
            List[InstanceData]: Per sample ``keypoints`` (1, 24, 2) input px and ``keypoint_scores``
            (1, 24) from the ``decoder``, and every field of :meth:`predict_outputs` but
            ``keypoints_crop``, first dim 1.
        """
        return outputs_to_instances(outputs_to_host(self.predict_outputs(feats, test_cfg)),
                                    batch_data_samples, self.decoder)

    def _test_init(self, feats: Tuple[Tensor], feat: Tensor) -> Optional[Dict[str, Tensor]]:
        """Hook: the IEF starting point at test from all features (``None``: :meth:`_initial_estimate`)."""
        return None

    def _predict_extras(self, preds: Dict[str, Tensor], with_rarity: bool) -> Dict[str, Tensor]:
        """Hook: extra per-sample tensors (B, ...) for :meth:`predict` (``with_rarity``: also those
        placing the pose among the training poses); HMR has none."""
        return {}
