"""MPJPE / PA-MPJPE / PVE of SMPL mesh predictions on the usual protocols."""
import copy
import logging
import os.path as osp
import warnings
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.dist import get_world_size
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmpose.registry import METRICS

from ...utils.tensor_utils import to_numpy
from ..functional import labelled_h36m_joints, per_sample_mpjpe, per_sample_pve

ALL_METRICS = ('MPJPE', 'PA-MPJPE', 'PVE')
PROTOCOLS = ('auto', 'h36m_lsp14', 'smpl24', 'h36m_joints_lsp14', 'h36m_joints_17')
_H36M_PROTOCOLS = ('h36m_lsp14', 'h36m_joints_lsp14', 'h36m_joints_17')
GENDERS = {'m': 'male', 'male': 'male', 'f': 'female', 'female': 'female'}
_WARNED_GENDERED: set = set()


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

    Protocols: ``'h36m_lsp14'`` (3DPW as SPIN and MMHuman3D report it: H36M joints regressed from the GT
    and predicted meshes, LSP-14), ``'h36m_joints_lsp14'`` / ``'h36m_joints_17'`` (Human3.6M protocols 1
    and 2 against the labelled joints), ``'smpl24'``; ``'auto'`` picks ``'h36m_lsp14'`` when the body model
    has an H36M regressor. GT meshes are gendered when ``gendered_body_models`` is given. Non-finite
    predictions are counted in ``num_nan`` and samples without the needed GT in ``num_skipped``; both are
    left out of the averages. Errors are computed per batch in :meth:`process`, so only scalars are gathered
    across ranks. Details: docs/evaluation.md.

    Args:
        body_model (dict): ``SMPLBodyModel`` arguments, e.g.
            ``dict(model_path=..., joint_regressor_h36m=...)``.
            Built lazily on the first :meth:`process` call.
        protocol (str): One of :data:`PROTOCOLS`. Defaults to ``'auto'``.
        gendered_body_models (dict, optional): ``dict(male=path, female=path)`` of the gendered SMPL
            models (``SMPL_MALE.pkl`` / ``SMPL_FEMALE.pkl``) for GT meshes. Defaults to None (neutral).
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
                 gendered_body_models: Optional[Dict[str, str]] = None,
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
        if protocol in _H36M_PROTOCOLS and not self.body_model_cfg.get('joint_regressor_h36m'):
            raise ValueError(f'protocol "{protocol}" needs body_model.joint_regressor_h36m')
        self.protocol = protocol
        self.metrics = tuple(metrics)
        self.body_batch_size = body_batch_size
        self._body = None
        self._regressor = None
        self._gendered: Dict[str, torch.nn.Module] = {}
        self.gendered_paths = self._check_gendered(dict(gendered_body_models or {}))

    def _check_gendered(self, paths: Dict[str, str]) -> Dict[str, str]:
        """Keep the gendered model paths if both exist; otherwise warn (once per file set) and use neutral."""
        self.gendered_gt = None if not paths else bool(
            set(paths) == {'male', 'female'} and all(osp.isfile(p) for p in paths.values()))
        if self.gendered_gt is not False:
            return paths
        if not set(paths) <= {'male', 'female'}:
            raise ValueError(f'gendered_body_models keys must be "male" and "female", got {sorted(paths)}')
        key = tuple(sorted(paths.items()))
        if key not in _WARNED_GENDERED:
            _WARNED_GENDERED.add(key)
            from pmnet_plugin.models.body_models.constants import OBTAIN_HINTS
            missing = [p for p in paths.values() if not osp.isfile(p)] or ['male and female paths']
            msg = (f'{type(self).__name__}: gendered SMPL model(s) {missing} not found, so GT meshes of '
                   'male/female samples use the NEUTRAL model: the numbers are NOT comparable with '
                   'published 3DPW tables (SPIN/HMR compute GT with the gendered models). To obtain '
                   f'them: {OBTAIN_HINTS["gendered_smpl"]}.')
            print_log(msg, logger='current', level=logging.WARNING)
            warnings.warn(msg)
        return {}

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

    def gendered_body(self, gender: str) -> torch.nn.Module:
        """The GT body model of ``gender`` ('male' / 'female'; other values: the neutral model)."""
        if gender not in self.gendered_paths:
            return self.body
        if gender not in self._gendered:
            from mmpose.registry import MODELS
            cfg = dict(self.body_model_cfg, type='SMPLBodyModel', model_path=self.gendered_paths[gender])
            self._gendered[gender] = MODELS.build(cfg).eval()
        return self._gendered[gender]

    @torch.no_grad()
    def run_body(self, betas: np.ndarray, body_pose: Any, global_orient: Any,
                 body: Optional[torch.nn.Module] = None) -> Dict[str, np.ndarray]:
        """Batched body-model forward on CPU.

        Args:
            betas (np.ndarray): Shape (B, 10).
            body_pose: Axis-angle (B, 69) or rotation matrices (B, 23, 3, 3).
            global_orient: Axis-angle (B, 3) or rotation matrices (B, 1, 3, 3).
            body (nn.Module, optional): The model to run; defaults to the neutral :attr:`body`.

        Returns:
            dict: ``vertices`` (B, V, 3), ``joints`` (B, 24, 3) and ``joints_h36m`` (B, 17, 3) when the
            model has a regressor, float64 numpy, metres.
        """
        out: Dict[str, List[np.ndarray]] = {}
        body = self.body if body is None else body
        for s in range(0, len(betas), self.body_batch_size):
            sl = slice(s, s + self.body_batch_size)
            res = body(
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
            ``gt_betas`` (10,), ``has_smpl`` bool, ``gt_joints`` (J, 3) or None, ``gt_joints_w`` (J,)
            (J joints of the sample's ``joint_set``), ``joint_set`` str, ``gender`` ('male', 'female'
            or 'neutral'), ``nan_pred`` bool and ``meta`` (id, img_path, sample_idx, clip, dataset_tag,
            is_rare).
        """
        pred = data_sample.get('pred_instances') or {}
        gt = data_sample.get('gt_instances') or {}
        if 'keypoints_3d' not in pred:
            raise ValueError('MeshMetric: pred_instances has no "keypoints_3d" (1, 24, 3)')
        pred_joints = _first_instance(pred['keypoints_3d'], 2, 'pred keypoints_3d')
        pred_vertices = _first_instance(pred.get('vertices'), 2, 'pred vertices')
        if pred_vertices is None and ('PVE' in self.metrics or self.protocol in _H36M_PROTOCOLS):
            raise ValueError(
                'MeshMetric: pred_instances has no "vertices" but '
                + ('PVE was asked for' if 'PVE' in self.metrics else f'protocol "{self.protocol}" '
                   'regresses H36M joints from them') + '; make the head output vertices or change '
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
            joint_set=str(data_sample.get('joint_set') or 'smpl'),
            gender=GENDERS.get(str(data_sample.get('gender') or '').lower(), 'neutral'),
            nan_pred=not all(np.isfinite(a).all() for a in pred_arrays),
            meta=meta)

    # ------------------------------------------------------------------ per-sample errors
    def gt_meshes(self, parsed: List[dict], idx: np.ndarray) -> Dict[str, np.ndarray]:
        """GT body-model outputs of samples ``idx`` (each from its gender's model when gendered).

        Returns:
            dict: ``vertices`` (n, V, 3), ``joints`` (n, 24, 3) and ``joints_h36m`` (n, 17, 3) when the
            model has a regressor, rows in the order of ``idx``.
        """
        genders = np.array([parsed[i]['gender'] if self.gendered_paths else 'neutral' for i in idx])
        out: Dict[str, np.ndarray] = {}
        for gender in np.unique(genders):
            rows = np.nonzero(genders == gender)[0]
            poses = np.stack([parsed[idx[r]]['gt_pose'] for r in rows])
            betas = np.stack([parsed[idx[r]]['gt_betas'] for r in rows])
            res = self.run_body(betas, poses[:, 3:], poses[:, :3], self.gendered_body(str(gender)))
            for key, val in res.items():
                out.setdefault(key, np.zeros((len(idx), ) + val.shape[1:]))[rows] = val
        return out

    def _protocol_joints(self, p: dict, gt: Optional[dict]):
        """Predicted and GT joints of one sample under the protocol, with the mask and both pelvises.

        Returns:
            tuple | None: ``(pred (J, 3), gt (J, 3), mask (J,), pred_pelvis (3,), gt_pelvis (3,))`` or
            None when the sample lacks the GT the protocol needs.
        """
        from pmnet_plugin.datasets.keypoint_conventions import get_keypoint_names
        from pmnet_plugin.models.body_models.constants import H36M_TO_LSP14
        if self.protocol == 'smpl24':
            if gt is not None:
                gj, w = gt['joints'], np.ones(len(p['pred_joints']))
            elif (p['gt_joints'] is not None and p['joint_set'] == 'smpl' and p['gt_joints_w'][0] > 0):
                gj, w = p['gt_joints'], p['gt_joints_w']
            else:
                return None
            pj = p['pred_joints']
            return pj, gj, w > 0, pj[0], gj[0]
        pj = np.einsum('jv,vc->jc', self.regressor, p['pred_vertices'])
        rows = H36M_TO_LSP14 if self.protocol.endswith('lsp14') else list(range(17))
        if self.protocol == 'h36m_lsp14':
            if gt is None:
                return None
            gj, w = gt['joints_h36m'], np.ones(17)
        else:
            if p['gt_joints'] is None:
                return None
            gj, w = labelled_h36m_joints(p['gt_joints'], p['gt_joints_w'],
                                         get_keypoint_names(p['joint_set']))
            if w[0] <= 0 or not (w[rows] > 0).any():
                return None
        return pj[rows], gj[rows], w[rows] > 0, pj[0], gj[0]

    def sample_errors(self, parsed: List[dict]) -> List[dict]:
        """Per-sample errors (mm) of a batch of parsed samples.

        Returns:
            list[dict]: One record per sample: ``meta`` fields, ``has_smpl``, ``nan_pred``, ``skipped``
            and each requested metric (NaN where it could not be computed).
        """
        n = len(parsed)
        errors = {m: np.full(n, np.nan) for m in self.metrics}
        skipped = np.zeros(n, dtype=bool)
        smpl_idx = np.array([i for i, p in enumerate(parsed) if p['has_smpl']], dtype=np.int64)
        gt_out = self.gt_meshes(parsed, smpl_idx) if len(smpl_idx) else {}
        slot = {int(i): k for k, i in enumerate(smpl_idx)}
        pred_j, gt_j, mask, rows, pelvis_p = [], [], [], [], {}
        for i, p in enumerate(parsed):
            if p['nan_pred']:
                continue
            gt = {k: v[slot[i]] for k, v in gt_out.items()} if i in slot else None
            res = self._protocol_joints(p, gt)
            if res is None:
                skipped[i] = True
                continue
            pj, gj, m, pelvis_p[i], pelvis_g = res
            pred_j.append(pj - pelvis_p[i])
            gt_j.append(np.nan_to_num(gj - pelvis_g))
            mask.append(m)
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
                # vertices centred on the protocol's pelvis, the GT's taken from the GT mesh
                key = 'joints' if self.protocol == 'smpl24' else 'joints_h36m'
                pv = np.stack([parsed[i]['pred_vertices'] - pelvis_p[i] for i in pve_rows])
                gv = np.stack([gt_out['vertices'][slot[i]] - gt_out[key][slot[i]][0] for i in pve_rows])
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
        if self.gendered_gt is not None:
            out['gendered_gt'] = float(self.gendered_gt)
        return out

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Average the per-sample errors.

        Returns:
            dict: ``MPJPE``, ``PA-MPJPE``, ``PVE`` (mm), ``num_samples``, ``num_nan``, ``num_skipped``,
            ``gendered_gt`` (with ``gendered_body_models``) (``mesh/`` is prepended by
            :class:`BaseMetric`).
        """
        return self.summarize(copy.deepcopy(results))
