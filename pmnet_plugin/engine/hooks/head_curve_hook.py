"""Learning curves of a mesh head on a cached test split: errors on all samples and on the rare tail."""
import json
import os.path as osp
from typing import Dict, List, Optional

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpose.registry import HOOKS

from pmnet_plugin.datasets.cached_feature_dataset import CachedFeatureDataset
from pmnet_plugin.evaluation.functional import per_sample_mpjpe, select_tail
from pmnet_plugin.evaluation.functional.mesh_eval import mesh_rarity
from pmnet_plugin.models.rarity import canonical_mesh
from pmnet_plugin.utils.atomic_io import atomic_write
from pmnet_plugin.utils.rotation import axis_angle_to_matrix, rot6d_to_matrix


@HOOKS.register_module()
class HeadCurveHook(Hook):
    """Every ``interval`` iterations, SMPL-24 errors (mm) of the model on a cached test split.

    Per evaluation: ``mpjpe`` (predicted pose, orientation and shape, root-relative 24 SMPL joints) and
    ``body_pose`` (the predicted body pose posed with the GT orientation and shape: the articulation that
    the starting point is about), each on all samples and on the ``tail_fractions`` of samples whose GT
    mesh is farthest from the mean-pose mesh (the ``PoseRarity`` 'mesh' score); for a prototype head also
    the chosen start's ``top1`` (reranked with ``rerank_topk``) and the selector's ``top5`` against the
    prototype nearest to the GT pose. The records go to
    ``out_file`` (JSON list) after each evaluation.

    Args:
        cache_dir (str): Feature cache of the test split (:class:`CachedFeatureDataset`).
        interval (int): Iterations between evaluations. Defaults to 500.
        out_file (str, optional): JSON file; ``curves.json`` in the work dir when None.
        tail_fractions (tuple[float]): Defaults to ``(0.1, 0.05)``.
        batch_size (int): Samples per forward. Defaults to 250.
    """

    priority = 'LOW'

    def __init__(self, cache_dir: str, interval: int = 500, out_file: Optional[str] = None,
                 tail_fractions=(0.1, 0.05), batch_size: int = 250) -> None:
        self.cache_dir, self.interval, self.out_file = cache_dir, interval, out_file
        self.tail_fractions, self.batch_size = tuple(tail_fractions), batch_size
        self.records: List[dict] = []
        self._gt: Optional[dict] = None

    # ------------------------------------------------------------------ ground truth, once
    @torch.no_grad()
    def _prepare(self, head) -> dict:
        data = CachedFeatureDataset(self.cache_dir)
        pose = torch.from_numpy(data.labels['label/smpl_pose'].reshape(len(data), 72)).float()
        betas = torch.from_numpy(data.labels['label/smpl_betas'].reshape(len(data), -1)).float()
        rot = axis_angle_to_matrix(pose.reshape(-1, 24, 3))
        body, device = head.body_model, head.init_betas.device
        gt = self._joints(head, rot, betas)
        step = self.batch_size
        mean_rot = rot6d_to_matrix(head.init_pose_rot6d.reshape(24, 6))[None, 1:]
        mean_betas = head.init_betas
        reference = canonical_mesh(body, mean_rot, mean_betas).double().cpu().numpy()
        meshes = torch.cat([canonical_mesh(body, rot[s:s + step, 1:].to(device),
                                           mean_betas.expand(len(rot[s:s + step]), -1)).cpu()
                            for s in range(0, len(rot), step)]).double().numpy()
        scores = mesh_rarity(meshes, reference)
        masks = {'all': np.ones(len(data), bool)}
        masks.update({f'tail{round(f * 100)}': select_tail(scores, f) for f in self.tail_fractions})
        return dict(data=data, rot=rot, betas=betas, joints=gt, masks=masks)

    def _joints(self, head, rot: torch.Tensor, betas: torch.Tensor) -> np.ndarray:
        """Root-relative SMPL joints (N, 24, 3) in mm of poses (N, 24, 3, 3) and betas (N, 10)."""
        out, device, step = [], head.init_betas.device, self.batch_size
        for s in range(0, len(rot), step):
            j = head.run_body_model(rot[s:s + step].to(device), betas[s:s + step].to(device), vertices=False,
                                    regressed=False)['joints'][:, :24]
            out.append((j - j[:, :1]).cpu().numpy() * 1000.0)
        return np.concatenate(out)

    # ------------------------------------------------------------------ evaluation
    @torch.no_grad()
    def evaluate(self, model, oracle: bool = False) -> Dict[str, float]:
        """Errors of ``model`` (unwrapped) on the cached split; ``oracle``: IEF starts from the prototype
        nearest to the GT pose (prototype heads only)."""
        head = model.head
        if self._gt is None:
            self._gt = self._prepare(head)
        gt, data = self._gt, self._gt['data']
        was_training = model.training
        model.eval()
        device = next(head.parameters()).device
        poses, betas, top1, top5 = [], [], [], []
        for s in range(0, len(data), self.batch_size):
            idx = range(s, min(s + self.batch_size, len(data)))
            levels = [torch.from_numpy(np.asarray(level[idx.start:idx.stop])).float().to(device)
                      for level in data.feats]
            feats = model.extract_feat(dict(backbone_feats=levels))
            feat = head._pool(feats)
            init = None if oracle else head._test_init(feats, feat)
            if hasattr(head, 'assignment'):
                assign = head.assignment(gt['rot'][idx.start:idx.stop].to(device))['index']
                logits = head.selector_logits(feat)
                top = logits.topk(min(5, logits.shape[1]), dim=1).indices
                chosen = top[:, 0] if init is None else init['proto_id']
                top1.append((chosen == assign).cpu().numpy())
                top5.append((top == assign[:, None]).any(1).cpu().numpy())
                if oracle:
                    init = head._initial_estimate(feat, assign)
            preds = head._forward_from_init(feat, init)
            poses.append(preds['smpl_pose_rotmat'].float().cpu())
            betas.append(preds['smpl_betas'].float().cpu())
        pose, beta = torch.cat(poses), torch.cat(betas)
        pred = self._joints(head, pose, beta)
        body = self._joints(head, torch.cat([gt['rot'][:, :1], pose[:, 1:]], 1), gt['betas'])
        errors = dict(mpjpe=per_sample_mpjpe(pred, gt['joints']), body_pose=per_sample_mpjpe(body, gt['joints']))
        out = {f'{name}_{group}': float(err[mask].mean())
               for name, err in errors.items() for group, mask in gt['masks'].items()}
        if top1:
            hits = dict(top1=np.concatenate(top1), top5=np.concatenate(top5))
            for name, hit in hits.items():
                for group, mask in gt['masks'].items():
                    out[f'{name}_{group}'] = float(hit[mask].mean())
        model.train(was_training)
        return out

    # ------------------------------------------------------------------ hook points
    def _record(self, runner, iteration: int) -> None:
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        rec = dict(iter=iteration, **self.evaluate(model))
        self.records.append(rec)
        cells = [f'{k}={v:.4g}' if isinstance(v, float) else f'{k}={v}' for k, v in rec.items()]
        runner.logger.info('head curve: ' + ', '.join(cells))

        def write(tmp: str) -> None:
            with open(tmp, 'w') as f:
                json.dump(self.records, f, indent=1)
        atomic_write(self.out_file or osp.join(runner.work_dir, 'curves.json'), write)

    def before_train(self, runner) -> None:
        if runner.iter == 0:
            self._record(runner, 0)

    def after_train_iter(self, runner, batch_idx: int, data_batch=None, outputs=None) -> None:
        if self.every_n_train_iters(runner, self.interval) or self.is_last_train_iter(runner):
            if not self.records or self.records[-1]['iter'] != runner.iter + 1:
                self._record(runner, runner.iter + 1)
