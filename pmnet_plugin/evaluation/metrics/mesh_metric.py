"""MPJPE / PA-MPJPE / PVE of SMPL mesh predictions on the usual protocols."""
import copy
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.dist import get_world_size
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log

from mmpose.registry import METRICS
from ...utils.tensor_utils import to_numpy
from ..functional import per_sample_mpjpe, per_sample_pve

ALL_METRICS = ('MPJPE', 'PA-MPJPE', 'PVE')
PROTOCOLS = ('auto', 'h36m_lsp14', 'smpl24')


def _first_instance(x: Any, ndim: int, key: str) -> Optional[np.ndarray]:
    """Select the single instance of a per-instance array, checking there is exactly one."""
    arr = to_numpy(x, np.float64)
    if arr is None:
        return None
    if arr.ndim == ndim + 1:
        if arr.shape[0] != 1:
            raise ValueError(f'{key}: expected one instance per sample (top-down), got {arr.shape[0]}')
        arr = arr[0]
    if arr.ndim != ndim:
        raise ValueError(f'{key}: unexpected shape {arr.shape}')
    return arr


@METRICS.register_module()
class MeshMetric(BaseMetric):
    """Mean per-joint position error (MPJPE), after similarity Procrustes (PA-MPJPE), and per-vertex
    error (PVE) of SMPL predictions, in millimetres.

    Protocols (``protocol``):
        - ``'h36m_lsp14'`` (3DPW / H36M style, as SPIN and MMHuman3D report them): H36M-17 joints are
          regressed from the GT mesh and from the predicted vertices with the same ``J_regressor_h36m``,
          centred on the H36M pelvis (joint 0) and reduced to the 14 LSP joints.
        - ``'smpl24'``: the 24 SMPL joints (prediction: ``pred_instances.keypoints_3d``), centred on the
          SMPL pelvis (joint 0). Samples without SMPL GT fall back to ``gt_instances.keypoints_3d``.
        - ``'auto'`` (default): ``'h36m_lsp14'`` when ``body_model`` names a ``joint_regressor_h36m``.
    PVE compares pelvis-centred vertices (the protocol's pelvis), only for samples with SMPL GT.
    GT meshes use the neutral SMPL model (3DPW's gendered GT is not reproduced: our choice).

    Predictions containing NaN/inf are counted (``num_nan``), logged and left out of every average.
    Samples without the GT the protocol needs are counted in ``num_skipped``.

    Per-sample errors are computed in :meth:`process` (GT meshes batched per evaluation batch) so that
    only scalars are gathered across ranks, not 6890-vertex meshes.

    Args:
        body_model (dict): ``SMPLBodyModel`` arguments, e.g.
            ``dict(model_path=..., joint_regressor_h36m=...)``.
            Built lazily on the first :meth:`process` call.
        protocol (str): One of ``'auto'``, ``'h36m_lsp14'``, ``'smpl24'``. Defaults to ``'auto'``.
        metrics (Sequence[str]): Subset of ``('MPJPE', 'PA-MPJPE', 'PVE')``. Defaults to all.
        body_batch_size (int): Meshes per body-model forward. Defaults to 256.
        collect_device (str): ``'cpu'`` or ``'gpu'``. Defaults to ``'cpu'``.
        prefix (str, optional): Key prefix; defaults to ``'mesh'`` (keys ``mesh/MPJPE`` ...).

    Note:
        - batch size: B
        - SMPL vertices: V = 6890
    """
    default_prefix: Optional[str] = 'mesh'

    def __init__(self,
                 body_model: dict,
                 protocol: str = 'auto',
                 metrics: Sequence[str] = ALL_METRICS,
                 body_batch_size: int = 256,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if protocol not in PROTOCOLS:
            raise ValueError(f'protocol must be one of {PROTOCOLS}, got {protocol!r}')
        unknown = set(metrics) - set(ALL_METRICS)
        if unknown or not metrics:
            raise ValueError(f'metrics must be a non-empty subset of {ALL_METRICS}, got {metrics}')
        self.body_model_cfg = dict(body_model)
        self.body_model_cfg.pop('type', None)
        if protocol == 'auto':
            protocol = 'h36m_lsp14' if self.body_model_cfg.get('joint_regressor_h36m') else 'smpl24'
        if protocol == 'h36m_lsp14' and not self.body_model_cfg.get('joint_regressor_h36m'):
            raise ValueError('protocol "h36m_lsp14" needs body_model.joint_regressor_h36m')
        self.protocol = protocol
        self.metrics = tuple(metrics)
        self.body_batch_size = body_batch_size
        self._body = None
        self._regressor = None

    # ------------------------------------------------------------------ body model (lazy)
    @property
    def body(self) -> torch.nn.Module:
        """The SMPL body model, built on first use."""
        if self._body is None:
            from mmpose.registry import MODELS
            import pmnet_plugin.models.body_models  # noqa: F401  (registers SMPLBodyModel)
            self._body = MODELS.build(dict(type='SMPLBodyModel', **self.body_model_cfg)).eval()
        return self._body

    @property
    def regressor(self) -> np.ndarray:
        """The H36M joint regressor, shape (17, V), loaded from ``body_model.joint_regressor_h36m``."""
        if self._regressor is None:
            from pmnet_plugin.models.body_models.smpl_io import load_h36m_regressor
            self._regressor = load_h36m_regressor(
                self.body_model_cfg['joint_regressor_h36m']).astype(np.float64)
        return self._regressor

    @torch.no_grad()
    def run_body(self, betas: np.ndarray, body_pose: Any, global_orient: Any) -> Dict[str, np.ndarray]:
        """Batched body-model forward on CPU.

        Args:
            betas (np.ndarray): Shape (B, 10).
            body_pose: Axis-angle (B, 69) or rotation matrices (B, 23, 3, 3).
            global_orient: Axis-angle (B, 3) or rotation matrices (B, 1, 3, 3).

        Returns:
            dict: ``vertices`` (B, V, 3), ``joints`` (B, 24, 3) and ``joints_h36m`` (B, 17, 3) when the
            model has a regressor, float64 numpy, metres.
        """
        out: Dict[str, List[np.ndarray]] = {}
        for s in range(0, len(betas), self.body_batch_size):
            sl = slice(s, s + self.body_batch_size)
            res = self.body(
                betas=torch.as_tensor(betas[sl], dtype=torch.float32),
                body_pose=torch.as_tensor(np.asarray(body_pose[sl]), dtype=torch.float32),
                global_orient=torch.as_tensor(np.asarray(global_orient[sl]), dtype=torch.float32))
            for key in ('vertices', 'joints', 'joints_h36m'):
                if res.get(key) is not None:
                    out.setdefault(key, []).append(res[key].double().numpy())
        return {k: np.concatenate(v) for k, v in out.items()}

    # ------------------------------------------------------------------ parsing
    def parse_sample(self, data_sample: dict) -> dict:
        """Extract the arrays the metric needs from one ``PoseDataSample.to_dict()``.

        Returns:
            dict: ``pred_joints`` (24, 3), ``pred_vertices`` (V, 3) or None, ``gt_pose`` (72,) or None,
            ``gt_betas`` (10,), ``has_smpl`` bool, ``gt_joints`` (24, 3) or None, ``gt_joints_w`` (24,),
            ``nan_pred`` bool and ``meta`` (id, img_path, sample_idx, clip, dataset_tag, is_rare).
        """
        pred = data_sample.get('pred_instances') or {}
        gt = data_sample.get('gt_instances') or {}
        if 'keypoints_3d' not in pred:
            raise ValueError('MeshMetric: pred_instances has no "keypoints_3d" (1, 24, 3)')
        pred_joints = _first_instance(pred['keypoints_3d'], 2, 'pred keypoints_3d')
        pred_vertices = _first_instance(pred.get('vertices'), 2, 'pred vertices')
        if pred_vertices is None and ('PVE' in self.metrics or self.protocol == 'h36m_lsp14'):
            raise ValueError(
                'MeshMetric: pred_instances has no "vertices" but '
                + ('PVE was asked for' if 'PVE' in self.metrics else 'protocol "h36m_lsp14" regresses '
                   'H36M joints from them') + '; make the head output vertices or change '
                '`metrics`/`protocol`')
        gt_pose = _first_instance(gt.get('smpl_pose'), 1, 'gt smpl_pose')
        has_smpl = gt_pose is not None
        if has_smpl and gt.get('has_smpl') is not None:
            has_smpl = bool(to_numpy(gt['has_smpl']).reshape(-1)[0] > 0)
        gt_betas = _first_instance(gt.get('smpl_betas'), 1, 'gt smpl_betas')
        gt_joints = _first_instance(gt.get('keypoints_3d'), 2, 'gt keypoints_3d')
        weights = gt.get('keypoints_3d_weights', gt.get('keypoints_3d_visible'))
        if gt_joints is not None:
            w = np.ones(len(gt_joints)) if weights is None else _first_instance(weights, 1, 'weights')
            gt_joints_w = w * np.isfinite(gt_joints).all(-1)
        else:
            gt_joints_w = None
        pred_arrays = [pred_joints] + ([pred_vertices] if pred_vertices is not None else [])
        meta = {k: data_sample.get(k) for k in ('id', 'img_path', 'sample_idx', 'clip', 'dataset_tag')}
        meta['is_rare'] = data_sample.get('is_rare')
        for k, v in meta.items():
            if isinstance(v, (torch.Tensor, np.ndarray, np.generic)):
                v = np.asarray(to_numpy(v) if isinstance(v, torch.Tensor) else v).reshape(-1)
                meta[k] = v[0].item() if v.size else None
        return dict(
            pred_joints=pred_joints,
            pred_vertices=pred_vertices,
            gt_pose=gt_pose if has_smpl else None,
            gt_betas=gt_betas if gt_betas is not None else np.zeros(10),
            has_smpl=has_smpl,
            gt_joints=gt_joints,
            gt_joints_w=gt_joints_w,
            nan_pred=not all(np.isfinite(a).all() for a in pred_arrays),
            meta=meta)

    # ------------------------------------------------------------------ per-sample errors
    def sample_errors(self, parsed: List[dict]) -> List[dict]:
        """Per-sample errors (mm) of a batch of parsed samples.

        Returns:
            list[dict]: One record per sample: ``meta`` fields, ``has_smpl``, ``nan_pred``, ``skipped``
            and each requested metric (NaN where it could not be computed).
        """
        from pmnet_plugin.models.body_models.constants import H36M_TO_LSP14
        n = len(parsed)
        errors = {m: np.full(n, np.nan) for m in self.metrics}
        skipped = np.zeros(n, dtype=bool)
        smpl_idx = np.array([i for i, p in enumerate(parsed) if p['has_smpl']], dtype=np.int64)
        gt_out = {}
        if len(smpl_idx):
            poses = np.stack([parsed[i]['gt_pose'] for i in smpl_idx])
            betas = np.stack([parsed[i]['gt_betas'] for i in smpl_idx])
            gt_out = self.run_body(betas, poses[:, 3:], poses[:, :3])
        slot = {int(i): k for k, i in enumerate(smpl_idx)}
        pred_j, gt_j, mask, rows, pelvis_p, pelvis_g = [], [], [], [], {}, {}
        for i, p in enumerate(parsed):
            if p['nan_pred']:
                continue
            if self.protocol == 'h36m_lsp14':
                if i not in slot:
                    skipped[i] = True
                    continue
                pj = np.einsum('jv,vc->jc', self.regressor, p['pred_vertices'])
                gj = gt_out['joints_h36m'][slot[i]]
                pelvis_p[i], pelvis_g[i] = pj[0], gj[0]
                pj, gj, w = pj[H36M_TO_LSP14], gj[H36M_TO_LSP14], np.ones(len(H36M_TO_LSP14))
            else:
                pj = p['pred_joints']
                if i in slot:
                    gj, w = gt_out['joints'][slot[i]], np.ones(len(pj))
                elif p['gt_joints'] is not None and p['gt_joints_w'][0] > 0 and p['gt_joints_w'].any():
                    gj, w = p['gt_joints'], p['gt_joints_w']
                else:
                    skipped[i] = True
                    continue
                pelvis_p[i], pelvis_g[i] = pj[0], gj[0]
            pred_j.append(pj - pelvis_p[i])
            gt_j.append(np.nan_to_num(gj - pelvis_g[i]))
            mask.append(w > 0)
            rows.append(i)
        if rows:
            args = (np.stack(pred_j) * 1000, np.stack(gt_j) * 1000, np.stack(mask))
            if 'MPJPE' in errors:
                errors['MPJPE'][rows] = per_sample_mpjpe(*args, alignment='none')
            if 'PA-MPJPE' in errors:
                errors['PA-MPJPE'][rows] = per_sample_mpjpe(*args, alignment='procrustes')
        if 'PVE' in errors:
            pve_rows = [i for i in rows if i in slot]
            if pve_rows:
                pv = np.stack([parsed[i]['pred_vertices'] - pelvis_p[i] for i in pve_rows])
                gv = np.stack([gt_out['vertices'][slot[i]] - pelvis_g[i] for i in pve_rows])
                errors['PVE'][pve_rows] = per_sample_pve(pv * 1000, gv * 1000)
        return [
            dict(**p['meta'], has_smpl=p['has_smpl'], nan_pred=p['nan_pred'], skipped=bool(skipped[i]),
                 **{m: float(errors[m][i]) for m in self.metrics}) for i, p in enumerate(parsed)
        ]

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Compute and store the per-sample errors of a batch.

        Args:
            data_batch: Unused.
            data_samples (Sequence[dict]): ``PoseDataSample.to_dict()`` outputs with ``pred_instances``.
        """
        self.results.extend(self.sample_errors([self.parse_sample(ds) for ds in data_samples]))

    # ------------------------------------------------------------------ aggregation
    def evaluate(self, size: int) -> dict:
        """Check the sample count, then aggregate (see :meth:`mmengine.evaluator.BaseMetric.evaluate`)."""
        if get_world_size() == 1 and len(self.results) != size:
            got = len(self.results)
            self.results.clear()
            raise ValueError(f'{type(self).__name__}: got {got} processed samples but the dataset has '
                             f'{size} (empty or mismatched results)')
        return super().evaluate(size)

    def summarize(self, results: List[dict]) -> Dict[str, float]:
        """Means over valid samples plus ``num_samples``, ``num_nan`` and ``num_skipped``.

        Raises:
            ValueError: On empty results, or when no sample has a finite prediction.
        """
        if not results:
            raise ValueError(f'{type(self).__name__}: no results to evaluate (empty test set?)')
        num_nan = sum(r['nan_pred'] for r in results)
        if num_nan == len(results):
            raise ValueError(f'{type(self).__name__}: all {num_nan} predictions contain NaN/inf')
        if num_nan:
            print_log(f'{type(self).__name__}: {num_nan}/{len(results)} predictions contain NaN/inf; '
                      'they are left out of every average', logger='current', level=30)
        out = {}
        for m in self.metrics:
            vals = np.array([r[m] for r in results], dtype=np.float64)
            vals = vals[np.isfinite(vals)]
            out[m] = float(vals.mean()) if len(vals) else float('nan')
        out.update(num_samples=float(len(results)), num_nan=float(num_nan),
                   num_skipped=float(sum(r['skipped'] for r in results)))
        return out

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Average the per-sample errors.

        Returns:
            dict: ``MPJPE``, ``PA-MPJPE``, ``PVE`` (mm), ``num_samples``, ``num_nan``, ``num_skipped``
            (``mesh/`` is prepended by :class:`BaseMetric`).
        """
        return self.summarize(copy.deepcopy(results))
