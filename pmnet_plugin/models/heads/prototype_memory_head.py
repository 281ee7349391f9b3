"""PM-Net head: IEF regression starting from a prototype selected from a memory."""
import warnings
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn.functional as F
from mmengine.structures import InstanceData
from mmpose.registry import MODELS
from mmpose.utils.typing import ConfigType, OptSampleList
from torch import Tensor, nn

from pmnet_plugin.models.necks.keypoint_heatmap_neck import soft_argmax
from pmnet_plugin.prototypes.geometry import (body_chordal_distance, canonical_rotmats,
                                              pose_features, require_built_prototypes)
from pmnet_plugin.prototypes.io import check_prototypes_fit, load_prototypes
from pmnet_plugin.utils.rotation import (average_quaternions, matrix_to_quaternion, matrix_to_rot6d,
                                         quaternion_to_matrix, rot6d_to_matrix)
from .hmr_head import NUM_JOINTS, HMRHead
from .mesh_outputs import outputs_to_host, outputs_to_instances


@MODELS.register_module()
class PrototypeMemoryHead(HMRHead):
    """Prototype-memory head of PM-Net (Rong, Liu, Loy, "Chasing the Tail in Monocular 3D Human
    Reconstruction With Prototype Memory", IEEE TIP 2022): :class:`HMRHead` whose IEF starts from a prototype.

    A selector MLP scores the K prototypes of the memory from the pooled feature; IEF refines from the top-1
    prototype or from the score-weighted per-joint Markley quaternion average of the top ``blend_topk``. The
    selector learns to predict the prototype nearest to the GT pose (:meth:`assignment`). Where the paper is
    silent, the choices and their reasons are in ``docs/model.md``.

    Args:
        prototype_file (str, optional): ``.npz`` of ``tools/build_prototypes.py``; ``None``: identity
            placeholders for a checkpoint to overwrite (training on them raises).
        num_prototypes (int): K; must match the file. Defaults to 32.
        learnable (bool): Prototype poses (and, with ``init_betas_cam='prototype'``, betas and cam) are
            ``nn.Parameter`` instead of buffers. Defaults to False.
        selector_hidden (int): Hidden width of the selector MLP (0 = linear). Defaults to 512.
        selector_dropout (float): Dropout in the selector. Defaults to 0.
        selector_channels (tuple[int, int], optional): ``(start, end)``: the feature channels the selector
            reads; ``None``: all. Defaults to None.
        init_mode (str): ``'top1'`` or ``'blend'``. Defaults to ``'top1'``.
        blend_topk (int): Prototypes blended in ``'blend'`` mode. Defaults to 3.
        detach_selection (bool): Only the assignment loss trains the selector. Defaults to True.
        assign_mode (str): ``'hard'`` (CE to the nearest) or ``'soft'`` (KL to ``softmax(-d / T)``).
            Defaults to ``'hard'``.
        assign_space (str): Distance d of the assignment: ``'rotation'``, summed squared chordal distance
            of the joint rotations; ``'joints'``, mean distance (m) of the 24 joints posed at the mean
            betas, root-relative, which ignores limb twists the image does not show. Defaults to
            ``'rotation'``.
        assign_temperature (float): T of the soft target, in the unit of d. Defaults to 1.0.
        init_betas_cam (str): Betas and cam start from the ``'mean'`` params or the ``'prototype'``.
            Defaults to ``'mean'``.
        train_init_from_gt (bool): Train IEF from the GT-assigned prototype. Defaults to False.
        tilt_weight (float): Weight of the body's tilt in the prototypes (0: articulation only); must equal
            the file's. Defaults to 0.
        rerank_topk (int): At test, IEF runs from each of the selector's top ``rerank_topk`` prototypes and
            starts from the one whose result projects closest to the 2D joints of the neck's heatmaps
            (``feats[0]``, :class:`KeypointHeatmapNeck`), weighted by their peaks; 0 or 1: the selector's
            top-1. Defaults to 0.
        rerank_beta (float): Soft-argmax sharpness of the heatmaps (the neck's ``beta``). Defaults to 20.
        ema_momentum (float, optional): Momentum of the update moving assigned prototypes towards their GT
            poses (:meth:`apply_ema_update`, needs ``PrototypeEMAHook``). Defaults to None (off).
        **kwargs: The arguments of :class:`HMRHead`, with its defaults.

    Note:
        - batch size: B;  prototypes: K;  joints: J = 24
    """

    def __init__(self,
                 *,
                 prototype_file: Optional[str] = 'data/prototypes/prototypes_k32.npz',
                 num_prototypes: int = 32,
                 learnable: bool = False,
                 selector_hidden: int = 512,
                 selector_dropout: float = 0.0,
                 selector_channels: Optional[Tuple[int, int]] = None,
                 init_mode: str = 'top1',
                 blend_topk: int = 3,
                 detach_selection: bool = True,
                 assign_mode: str = 'hard',
                 assign_space: str = 'rotation',
                 assign_temperature: float = 1.0,
                 init_betas_cam: str = 'mean',
                 train_init_from_gt: bool = False,
                 tilt_weight: float = 0.0,
                 rerank_topk: int = 0,
                 rerank_beta: float = 20.0,
                 ema_momentum: Optional[float] = None,
                 **kwargs):
        super().__init__(**kwargs)
        if init_mode not in ('top1', 'blend'):
            raise ValueError(f'PrototypeMemoryHead: init_mode must be top1|blend, got {init_mode}')
        if assign_mode not in ('hard', 'soft'):
            raise ValueError(f'PrototypeMemoryHead: assign_mode must be hard|soft, got {assign_mode}')
        if assign_space not in ('rotation', 'joints'):
            raise ValueError(f'PrototypeMemoryHead: assign_space must be rotation|joints, got {assign_space}')
        if init_betas_cam not in ('mean', 'prototype'):
            raise ValueError('PrototypeMemoryHead: init_betas_cam must be mean|prototype')
        if learnable and ema_momentum is not None:
            raise ValueError('PrototypeMemoryHead: ema_momentum and learnable=True are exclusive')
        if tilt_weight < 0:
            raise ValueError(f'PrototypeMemoryHead: tilt_weight must be >= 0, got {tilt_weight}')
        if selector_channels is not None:
            start, end = (int(c) for c in selector_channels)
            if not 0 <= start < end <= self.in_channels:
                raise ValueError(f'PrototypeMemoryHead: selector_channels must satisfy 0 <= start < end <= '
                                 f'in_channels={self.in_channels}, got {tuple(selector_channels)}')
            selector_channels = (start, end)
        self.selector_channels = selector_channels
        selector_in = (self.in_channels if selector_channels is None else
                       selector_channels[1] - selector_channels[0])
        self.num_prototypes = num_prototypes
        self.init_mode = init_mode
        self.blend_topk = min(blend_topk, num_prototypes)
        self.detach_selection = detach_selection
        self.assign_mode = assign_mode
        self.assign_space = assign_space
        self.assign_temperature = assign_temperature
        self.init_betas_cam = init_betas_cam
        self.train_init_from_gt = train_init_from_gt
        self.ema_momentum = ema_momentum
        self.tilt_weight = float(tilt_weight)
        if rerank_topk < 0 or rerank_topk > num_prototypes:
            raise ValueError(f'PrototypeMemoryHead: rerank_topk must be in [0, K={num_prototypes}], got {rerank_topk}')
        self.rerank_topk, self.rerank_beta = int(rerank_topk), float(rerank_beta)
        # set by PrototypeEMAHook before training; the assignment of the last training batch
        self.ema_hook_registered = False
        self._ema_batch: Optional[Dict[str, Tensor]] = None
        self.prototype_file = prototype_file
        self._prototypes_checked = False  # require_built_prototypes runs at the first training batch
        protos = self._read_prototypes(prototype_file)
        for name in ('pose_rot6d', 'betas', 'cam'):
            value = protos[name]
            if learnable and (name == 'pose_rot6d' or init_betas_cam == 'prototype'):
                setattr(self, f'proto_{name}', nn.Parameter(value))
            else:
                self.register_buffer(f'proto_{name}', value)
        self.register_buffer('proto_counts', protos['counts'])
        if selector_hidden > 0:
            self.selector = nn.Sequential(
                nn.Linear(selector_in, selector_hidden), nn.ReLU(inplace=True),
                nn.Dropout(selector_dropout), nn.Linear(selector_hidden, num_prototypes))
        else:
            self.selector = nn.Linear(selector_in, num_prototypes)

    def _read_prototypes(self, path: Optional[str]) -> Dict[str, Tensor]:
        K, nb = self.num_prototypes, self.init_betas.shape[1]
        if path is None:
            warnings.warn('PrototypeMemoryHead: prototype_file=None, prototypes are identity '
                          'placeholders until a checkpoint is loaded (training on them is an error).')
            eye = matrix_to_rot6d(torch.eye(3)).repeat(K, NUM_JOINTS, 1)
            return dict(pose_rot6d=eye, betas=torch.zeros(K, nb), cam=self.init_cam.repeat(K, 1),
                        counts=torch.zeros(K, dtype=torch.long))
        d = load_prototypes(path)
        check_prototypes_fit(d, path, K, NUM_JOINTS, self.tilt_weight)
        nv = int(d.get('num_vertices', -1))
        body_nv = getattr(self.body_model, 'num_vertices', nv)
        if nv > 0 and body_nv != nv:
            warnings.warn(f'PrototypeMemoryHead: {path} was built for a {nv}-vertex body model, '
                          f'the head uses {body_nv} vertices.')
        counts = d.get('counts', torch.zeros(K))
        return dict(pose_rot6d=torch.as_tensor(d['pose_rot6d'], dtype=torch.float32),
                    betas=torch.as_tensor(d['betas'][:, :nb], dtype=torch.float32),
                    cam=torch.as_tensor(d['cam'], dtype=torch.float32),
                    counts=torch.as_tensor(counts, dtype=torch.long))

    # ------------------------------------------------------------------ prototypes
    def prototype_rotmats(self) -> Tensor:
        """Prototype poses as rotation matrices, shape (K, 24, 3, 3)."""
        return rot6d_to_matrix(self.proto_pose_rot6d.float())

    def canonical(self, pose_rotmat: Tensor) -> Tensor:
        """Poses (B, 24, 3, 3) canonicalised as the prototypes are (identity or heading-free root)."""
        return canonical_rotmats(pose_rotmat.float(), keep_tilt=self.tilt_weight > 0)

    def canonical_joints(self, pose_rotmat: Tensor) -> Tensor:
        """Root-relative joints (N, 24, 3) of canonical poses (N, 24, 3, 3) at the mean betas."""
        pose = self.canonical(pose_rotmat)  # the identity root without tilt, as the prototypes have
        # shape[0], not len(): an exported graph keeps the batch size dynamic
        joints = self.run_body_model(pose, self.init_betas.expand(pose.shape[0], -1), vertices=False,
                                     regressed=False)['joints'][:, :NUM_JOINTS]
        return joints - joints[:, :1]

    def assignment(self, gt_pose_rotmat: Tensor) -> Dict[str, Tensor]:
        """Nearest prototype of GT poses (canonicalised as in build_prototypes), in ``assign_space``.

        Args:
            gt_pose_rotmat (Tensor): GT poses, shape (B, 24, 3, 3).

        Returns:
            dict: ``index`` (B,) long, ``soft`` (B, K) = softmax(-d / T), ``dist`` (B, K).
        """
        with torch.no_grad():
            if self.assign_space == 'joints':
                gt, protos = self.canonical_joints(gt_pose_rotmat), self.canonical_joints(self.prototype_rotmats())
                d = torch.linalg.norm(gt[:, None] - protos[None], dim=-1).mean(-1)
            else:
                d = body_chordal_distance(self.canonical(gt_pose_rotmat), self.prototype_rotmats(),
                                          self.tilt_weight)
        return dict(index=d.argmin(1), soft=F.softmax(-d / self.assign_temperature, 1), dist=d)

    def selector_logits(self, feat: Tensor) -> Tensor:
        """Prototype scores (B, K) from the pooled feature (B, C), read at ``selector_channels``."""
        if self.selector_channels is not None:
            feat = feat[:, self.selector_channels[0]:self.selector_channels[1]]
        return self.selector(feat).float()

    def _blend(self, idx: Tensor, weights: Tensor) -> Tensor:
        """Per-joint weighted Markley average of prototypes ``idx`` (B, n) with ``weights`` (B, n).

        Returns:
            Tensor: Rotation matrices (B, 24, 3, 3).
        """
        q = matrix_to_quaternion(self.prototype_rotmats())[idx].transpose(1, 2)  # (B, 24, n, 4)
        w = weights[:, None].expand(-1, NUM_JOINTS, -1)
        with torch.no_grad():
            avg = average_quaternions(q.detach(), w.detach())
        sign = torch.sign((q.detach() * avg[:, :, None]).sum(-1, keepdim=True))
        lin = F.normalize((w[..., None] * sign * q).sum(2), dim=-1)
        return quaternion_to_matrix(avg + lin - lin.detach())

    def _initial_estimate(self, feat: Tensor,
                          forced_index: Optional[Tensor] = None) -> Dict[str, Tensor]:
        """Select/blend prototypes and build the IEF starting point.

        Args:
            feat (Tensor): Pooled feature (B, C).
            forced_index (Tensor, optional): (B,) prototype per sample (teacher forcing), top-1.

        Returns:
            dict: ``pose_rot6d`` (B, 144), ``betas`` (B, 10), ``cam`` (B, 3), ``proto_logits`` (B, K),
            ``proto_init_pose`` (B, 24, 3, 3), ``proto_id`` (B,), ``proto_score`` (B,).
        """
        B = feat.shape[0]
        logits = self.selector_logits(feat)
        probs = logits.softmax(-1)
        score, top1 = probs.max(-1)
        if forced_index is not None or self.init_mode == 'top1':
            idx = (top1 if forced_index is None else forced_index)[:, None]
            weights = torch.ones(B, 1, device=feat.device)
            rot = self.prototype_rotmats()[idx[:, 0]]
        else:
            top_p, idx = probs.topk(self.blend_topk, dim=-1)
            weights = top_p / top_p.sum(-1, keepdim=True)
            if self.detach_selection:
                weights = weights.detach()
            rot = self._blend(idx, weights)
        if self.tilt_weight <= 0:  # articulation-only prototypes start from the mean global orient
            root = rot6d_to_matrix(self.init_pose_rot6d.reshape(1, NUM_JOINTS, 6)[:, :1])
            rot = torch.cat([root.expand(B, -1, -1, -1), rot[:, 1:]], dim=1)
        if self.init_betas_cam == 'prototype':
            betas = (weights[..., None] * self.proto_betas[idx]).sum(1)
            cam = (weights[..., None] * self.proto_cam[idx]).sum(1)
        else:
            betas, cam = self.init_betas.expand(B, -1), self.init_cam.expand(B, -1)
        return dict(pose_rot6d=matrix_to_rot6d(rot).reshape(B, -1), betas=betas, cam=cam,
                    proto_logits=logits, proto_init_pose=rot, proto_id=top1, proto_score=score)

    # ------------------------------------------------------------------ training
    def _forward_for_loss(self, feat: Tensor, targets: Dict[str, Tensor]) -> Tuple[Dict[str, Tensor], ...]:
        """Assign GT poses to prototypes, forward from the (predicted or teacher-forced) prototype.

        Returns:
            tuple: The outputs of :meth:`forward`, ``dict(proto_logits=(B, K))`` for the loss
            prediction and ``dict(proto_target=...)``: (B,) index (``assign_mode='hard'``) or (B, K)
            probabilities (``'soft'``).
        """
        if self.training and not self._prototypes_checked:
            require_built_prototypes(self.proto_pose_rot6d, self.proto_counts, self.prototype_file)
            self._prototypes_checked = True
        assign = self.assignment(targets['smpl_pose_rotmat'])
        forced = None
        if self.train_init_from_gt and self.training:
            has = targets['has_smpl'] > 0
            logits_top1 = self.selector_logits(feat).detach().argmax(-1)
            forced = torch.where(has, assign['index'], logits_top1)
        preds = self._forward_from_init(feat, self._initial_estimate(feat, forced))
        if self.training and self.ema_momentum is not None:
            self._record_ema_batch(targets['smpl_pose_rotmat'], assign['index'], targets['has_smpl'])
        target = assign['index'] if self.assign_mode == 'hard' else assign['soft']
        return preds, dict(proto_logits=preds['proto_logits']), dict(proto_target=target)

    def _record_ema_batch(self, gt_rot: Tensor, index: Tensor, has_smpl: Tensor) -> None:
        """Keep the batch's assignment for :meth:`apply_ema_update` (called by ``PrototypeEMAHook``).

        Args:
            gt_rot (Tensor): GT poses (B, 24, 3, 3).
            index (Tensor): Assigned prototype per sample (B,).
            has_smpl (Tensor): (B,) 0/1; samples without SMPL do not move prototypes.
        """
        if not self.ema_hook_registered:
            raise RuntimeError(
                f'PrototypeMemoryHead: ema_momentum={self.ema_momentum} is set but no PrototypeEMAHook '
                'is registered, so the prototypes would never move; add dict(type="PrototypeEMAHook") '
                'to custom_hooks, or set model.head.ema_momentum=None.')
        self._ema_batch = dict(gt_rot=gt_rot.detach(), index=index.detach(), has_smpl=has_smpl.detach())

    @torch.no_grad()
    def apply_ema_update(self) -> None:
        """Move the prototypes assigned in the last training :meth:`loss` towards their GT poses.

        Each assigned prototype k becomes the per-joint weighted Markley quaternion average of itself
        (weight ``m = ema_momentum``) and its n canonicalised GT poses (weight ``(1 - m) / n`` each).
        Does nothing when no batch was recorded since the last call.
        """
        if self._ema_batch is None:
            return
        gt_rot, index, has_smpl = (self._ema_batch[k] for k in ('gt_rot', 'index', 'has_smpl'))
        self._ema_batch = None
        m = float(self.ema_momentum)
        q_gt = matrix_to_quaternion(self.canonical(gt_rot))  # (B, 24, 4)
        q_proto = matrix_to_quaternion(self.prototype_rotmats())
        valid = has_smpl > 0
        for k in torch.unique(index[valid]).tolist():
            sel = valid & (index == k)
            n = int(sel.sum())
            q = torch.cat([q_proto[k][None], q_gt[sel]], 0).transpose(0, 1)  # (24, n+1, 4)
            w = torch.full((n + 1, ), (1 - m) / n, device=q.device)
            w[0] = m
            new = quaternion_to_matrix(average_quaternions(q, w[None].expand(NUM_JOINTS, -1)))
            if self.tilt_weight <= 0:
                new[0] = torch.eye(3, device=new.device)
            self.proto_pose_rot6d[k] = matrix_to_rot6d(new).to(self.proto_pose_rot6d.dtype)

    def predict(self, feats: Tuple[Tensor], batch_data_samples: OptSampleList,
                test_cfg: ConfigType = {}) -> List[InstanceData]:
        """:meth:`HMRHead.predict`; with ``test_cfg.oracle_prototype`` IEF starts from the prototype
        :meth:`assignment` gives the sample's GT pose (an upper bound on selection; needs GT
        ``smpl_pose`` labels), and ``proto_id`` is that prototype."""
        if not test_cfg.get('oracle_prototype', False):
            return super().predict(feats, batch_data_samples, test_cfg)
        feat = self._pool(feats)
        gt = self.gather_targets(batch_data_samples, feat.device)
        if not bool((gt['has_smpl'] > 0).all()):
            raise ValueError('PrototypeMemoryHead: test_cfg.oracle_prototype needs GT smpl_pose for every sample')
        index = self.assignment(gt['smpl_pose_rotmat'])['index']
        init = dict(self._initial_estimate(feat, index), proto_id=index)
        return outputs_to_instances(outputs_to_host(self.predict_outputs(feats, test_cfg, init)),
                                    batch_data_samples, self.decoder)

    def _test_init(self, feats: Tuple[Tensor], feat: Tensor) -> Optional[Dict[str, Tensor]]:
        """The start reranked by the 2D fit of its IEF result (``rerank_topk`` > 1), else ``None``."""
        if self.rerank_topk <= 1:
            return None
        heatmaps = feats[0] if isinstance(feats, (list, tuple)) else None
        if heatmaps is None or heatmaps.dim() != 4 or heatmaps.shape[1] < NUM_JOINTS:
            raise ValueError('PrototypeMemoryHead: rerank_topk needs the 24 SMPL joint heatmaps as feats[0] '
                             '(KeypointHeatmapNeck); set model.head.rerank_topk=0 for this neck')
        B, k = feat.shape[0], self.rerank_topk
        coords, peak = soft_argmax(heatmaps[:, :NUM_JOINTS], self.rerank_beta)  # (B, 24, 2), (B, 24)
        top = self.selector_logits(feat).topk(k, dim=1).indices  # (B, k)
        flat = feat.repeat_interleave(k, 0)
        preds = self._forward_from_init(flat, self._initial_estimate(flat, top.reshape(-1)))
        joints = self.run_body_model(preds['smpl_pose_rotmat'], preds['smpl_betas'], vertices=False,
                                     regressed=False)['joints'][:, :NUM_JOINTS]
        err = torch.linalg.norm(self.project(joints, preds['cam']).reshape(B, k, NUM_JOINTS, 2)
                                - coords[:, None], dim=-1)
        w = peak.clamp(min=0)[:, None]
        fit = (err * w).sum(-1) / w.sum(-1).clamp(min=1e-6)  # (B, k)
        index = top.gather(1, fit.argmin(1, keepdim=True))[:, 0]
        return dict(self._initial_estimate(feat, index), proto_id=index)

    def _predict_extras(self, preds: Dict[str, Tensor], with_rarity: bool) -> Dict[str, Tensor]:
        """Selected prototype (``proto_id``, ``proto_score``) and, ``with_rarity``, the prototype nearest
        to the predicted pose (``proto_nearest_id``, ``proto_nearest_dist``: square root of the summed
        squared chordal distance over the 23 body joints, plus the weighted tilt when ``tilt_weight > 0``:
        the metric of :meth:`assignment`), each (B,)."""
        if not with_rarity:
            return dict(proto_id=preds['proto_id'], proto_score=preds['proto_score'])
        index = self.assignment(preds['smpl_pose_rotmat'])['index']
        with torch.no_grad():  # exact distance of the nearest (the expanded square loses precision)
            diff = pose_features(self.canonical(preds['smpl_pose_rotmat']), self.tilt_weight) - \
                pose_features(self.prototype_rotmats()[index], self.tilt_weight)
        return dict(proto_id=preds['proto_id'], proto_score=preds['proto_score'],
                    proto_nearest_id=index, proto_nearest_dist=torch.linalg.norm(diff, dim=-1))
