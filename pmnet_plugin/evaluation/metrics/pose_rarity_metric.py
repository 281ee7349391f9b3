"""Errors on the rare tail of the pose distribution (PM-Net's evaluation axis)."""
import json
import math
import os
import os.path as osp
from typing import Any, Dict, List, Optional, Sequence

import numpy as np
import torch
from mmengine.logging import print_log
from mmpose.registry import METRICS

from ..functional import binned_stats, knn_distance, mesh_rarity, select_tail, tail_tag
from .mesh_metric import MeshMetric

RARITY_KINDS = ('mesh', 'prototype', 'knn')
RARITY_LABELS = {
    'mesh': 'mean vertex distance to the mean-pose mesh (mm)',
    'prototype': 'pose distance to the nearest prototype (chordal)',
    'knn': 'mean pose distance to the k nearest training poses (chordal)',
}


def _jsonable(v: Any) -> Any:
    if isinstance(v, (np.generic, torch.Tensor)):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


@METRICS.register_module(name=['PoseRarity', 'PoseRarityMetric'])
class PoseRarityMetric(MeshMetric):
    """MPJPE / PA-MPJPE / PVE on the rarest test poses, on the common rest, and balanced over rarity.

    Every test sample with SMPL GT gets a rarity score: ``'mesh'``, the mean vertex distance (mm) to the
    mean-params mesh in the canonical frame (Balanced MSE's IHMR axis, which PM-Net uses); ``'prototype'``,
    the pose-feature distance to the nearest prototype; ``'knn'``, its mean over the ``knn_k`` nearest
    training poses. Reported under ``rarity/``: ``tail{p}_{metric}`` (the ``ceil(p * N)`` highest scores),
    ``common_{metric}``, ``balanced_{metric}`` (mean of the bin means over equal-width rarity bins, Balanced
    MSE Sec. 4.2.2), ``all_{metric}``, per-group values and counts. The tail is chosen from the GT alone, so
    every model is scored on the same samples. With ``out_dir``, ``rarity_{model_name}.json`` and ``.png``
    are written. Key list and file layout: docs/evaluation.md.

    Args:
        body_model (dict): ``SMPLBodyModel`` arguments (see :class:`MeshMetric`).
        mean_params (str, optional): SPIN ``smpl_mean_params.npz``; needed for ``rarity='mesh'``.
        rarity (str): ``'mesh'``, ``'prototype'`` or ``'knn'``. Defaults to ``'mesh'``.
        prototypes (str, optional): Prototype ``.npz`` (``tools/build_prototypes.py``), for ``'prototype'``.
        train_poses (str, optional): Training pose npz (``poses`` (N, 72) or HumanData), for ``'knn'``.
        knn_k (int): Neighbours of the k-NN score. Defaults to 10.
        max_train_poses (int): Training poses kept for k-NN (random subset, seed 0). Defaults to 50000.
        tail_fractions (Sequence[float]): Defaults to ``(0.1, 0.05)``.
        num_bins (int): Bins of the balanced average. Defaults to 100.
        plot_bins (int): Bins of the PNG. Defaults to 20.
        group_by (Sequence[str]): Metainfo keys to group by. Defaults to ``('clip', 'dataset_tag',
            'is_rare')``.
        out_dir (str, optional): Folder for the JSON/PNG; nothing is written when None (default).
        model_name (str, optional): Name stored in the JSON and used in file names. Defaults to ``'model'``.
        **kwargs: The other :class:`MeshMetric` arguments (``protocol``, ``metrics``,
            ``gendered_body_models``, ``body_batch_size``, ``collect_device``, ``prefix``); the prefix
            defaults to ``'rarity'``.
    """
    default_prefix: Optional[str] = 'rarity'

    def __init__(self,
                 body_model: dict,
                 mean_params: Optional[str] = None,
                 rarity: str = 'mesh',
                 prototypes: Optional[str] = None,
                 train_poses: Optional[str] = None,
                 knn_k: int = 10,
                 max_train_poses: int = 50000,
                 tail_fractions: Sequence[float] = (0.1, 0.05),
                 num_bins: int = 100,
                 plot_bins: int = 20,
                 group_by: Sequence[str] = ('clip', 'dataset_tag', 'is_rare'),
                 out_dir: Optional[str] = None,
                 model_name: Optional[str] = None,
                 **kwargs) -> None:
        super().__init__(body_model=body_model, **kwargs)
        if rarity not in RARITY_KINDS:
            raise ValueError(f'rarity must be one of {RARITY_KINDS}, got {rarity!r}')
        needed = dict(mesh=('mean_params', mean_params), prototype=('prototypes', prototypes),
                      knn=('train_poses', train_poses))[rarity]
        if not needed[1]:
            raise ValueError(f'rarity={rarity!r} needs the `{needed[0]}` file argument')
        if not tail_fractions or not all(0 < f <= 1 for f in tail_fractions):
            raise ValueError(f'tail_fractions must be in (0, 1], got {tail_fractions}')
        self.rarity = rarity
        self.reference_file = needed[1]  # the file this rarity kind reads
        self.knn_k = knn_k
        self.max_train_poses = max_train_poses
        self.tail_fractions = tuple(sorted(tail_fractions, reverse=True))
        self.num_bins = num_bins
        self.plot_bins = plot_bins
        self.group_by = tuple(group_by)
        self.out_dir = out_dir
        self.model_name = model_name or 'model'
        self._reference: Optional[np.ndarray] = None  # mean mesh (V, 3) or pose features (M, 207)
        self._mean_betas: Optional[np.ndarray] = None

    # ------------------------------------------------------------------ rarity scores
    def _load_reference(self) -> np.ndarray:
        from pmnet_plugin.prototypes.geometry import canonical_rotmats, pose_features
        from pmnet_plugin.prototypes.io import load_pose_source, load_prototypes
        from pmnet_plugin.utils.rotation import rot6d_to_matrix
        if self.rarity == 'mesh':
            from pmnet_plugin.models.body_models.smpl_io import load_mean_params
            mp = load_mean_params(self.reference_file)
            self._mean_betas = mp['betas'].astype(np.float64)
            body_rot = rot6d_to_matrix(torch.from_numpy(mp['pose_rot6d'][1:]).float())[None]
            return self.canonical_meshes(self._mean_betas[None], body_rot)[0]
        if self.rarity == 'prototype':
            rot = rot6d_to_matrix(torch.from_numpy(load_prototypes(self.reference_file)['pose_rot6d']).float())
            return pose_features(canonical_rotmats(rot)).double().numpy()
        poses = load_pose_source(self.reference_file)['poses']
        if len(poses) > self.max_train_poses:
            keep = np.random.default_rng(0).choice(len(poses), self.max_train_poses, replace=False)
            poses = poses[np.sort(keep)]
        if len(poses) < self.knn_k:
            raise ValueError(f'{self.reference_file}: {len(poses)} training poses < knn_k={self.knn_k}')
        rot = canonical_rotmats(torch.from_numpy(np.asarray(poses, np.float32)))
        return pose_features(rot).double().numpy()

    @torch.no_grad()
    def canonical_meshes(self, betas: np.ndarray, body_rot: torch.Tensor) -> np.ndarray:
        """Meshes of :func:`pmnet_plugin.models.rarity.canonical_mesh` (mm), in ``body_batch_size`` chunks.

        Args:
            betas (np.ndarray): Shape (N, 10).
            body_rot (Tensor): Body-joint rotations, shape (N, 23, 3, 3).

        Returns:
            np.ndarray: Shape (N, V, 3), float64.
        """
        from pmnet_plugin.models.rarity import canonical_mesh
        out = []
        for s in range(0, len(betas), self.body_batch_size):
            sl = slice(s, s + self.body_batch_size)
            out.append(canonical_mesh(self.body, body_rot[sl].float(),
                                      torch.as_tensor(betas[sl], dtype=torch.float32)).double().numpy())
        return np.concatenate(out)

    def rarity_scores(self, parsed: List[dict]) -> np.ndarray:
        """Rarity of each parsed sample (NaN without SMPL GT), shape (N,)."""
        from pmnet_plugin.prototypes.geometry import canonical_rotmats, pose_features
        if self._reference is None:
            self._reference = self._load_reference()
        scores = np.full(len(parsed), np.nan)
        idx = [i for i, p in enumerate(parsed) if p['has_smpl']]
        if not idx:
            return scores
        poses = np.stack([parsed[i]['gt_pose'] for i in idx])
        if self.rarity == 'mesh':
            from pmnet_plugin.utils.rotation import axis_angle_to_matrix
            betas = np.tile(self._mean_betas, (len(idx), 1))
            body_rot = axis_angle_to_matrix(torch.from_numpy(poses[:, 3:]).float().reshape(-1, 23, 3))
            scores[idx] = mesh_rarity(self.canonical_meshes(betas, body_rot), self._reference)
        else:
            feats = pose_features(canonical_rotmats(torch.from_numpy(poses).float())).double().numpy()
            k = 1 if self.rarity == 'prototype' else self.knn_k
            scores[idx] = knn_distance(feats, self._reference, k=k)
        return scores

    def process(self, data_batch: Any, data_samples: Sequence[dict]) -> None:
        """Store per-sample errors and rarity scores of a batch (see :meth:`MeshMetric.process`)."""
        parsed = [self.parse_sample(ds) for ds in data_samples]
        records = self.sample_errors(parsed)
        for rec, score in zip(records, self.rarity_scores(parsed)):
            rec['rarity'] = float(score)
        self.results.extend(records)

    # ------------------------------------------------------------------ aggregation
    @staticmethod
    def _mean(values: np.ndarray) -> float:
        values = values[np.isfinite(values)]
        return float(values.mean()) if len(values) else float('nan')

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Tail / common / balanced / grouped errors (mm) and counts; writes JSON/PNG if ``out_dir``."""
        overall = self.summarize(results)
        scores = np.array([r['rarity'] for r in results], dtype=np.float64)
        scored = np.isfinite(scores)
        if not scored.any():
            raise ValueError('PoseRarity: no sample has SMPL ground truth, so no rarity can be scored')
        s = scores[scored]
        out: Dict[str, float] = {}
        tails = {f: select_tail(s, f) for f in self.tail_fractions}
        common = ~tails[self.tail_fractions[0]]
        for m in self.metrics:
            errs = np.array([r[m] for r in results], dtype=np.float64)[scored]
            out[f'all_{m}'] = overall[m]
            for f, mask in tails.items():
                out[f'{tail_tag(f)}_{m}'] = self._mean(errs[mask])
            out[f'common_{m}'] = self._mean(errs[common])
            ok = np.isfinite(errs)
            if ok.any():
                bins = binned_stats(s[ok], errs[ok], self.num_bins, (s.min(), s.max()))
                out[f'balanced_{m}'] = float(np.nanmean(bins['means']))
            else:
                out[f'balanced_{m}'] = float('nan')
        for key in self.group_by:
            tags = sorted({str(self._tag(r.get(key))) for r in results if r.get(key) is not None})
            for tag in tags:
                sel = [r for r in results if r.get(key) is not None and str(self._tag(r[key])) == tag]
                for m in self.metrics:
                    out[f'{key}={tag}_{m}'] = self._mean(np.array([r[m] for r in sel], np.float64))
                out[f'{key}={tag}_count'] = float(len(sel))
        out.update(
            num_samples=overall['num_samples'], num_nan=overall['num_nan'],
            num_unscored=float((~scored).sum()), mean_rarity=float(s.mean()),
            **{f'num_{tail_tag(f)}': float(m.sum()) for f, m in tails.items()})
        if self.out_dir:
            self.dump(results, out)
        return out

    @staticmethod
    def _tag(value: Any) -> Any:
        if isinstance(value, (bool, np.bool_)):
            return int(value)
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return value

    def dump(self, results: List[dict], summary: Dict[str, float]) -> Dict[str, str]:
        """Write ``rarity_{model_name}.json`` and ``.png`` into ``out_dir``.

        Returns:
            dict: ``json`` and ``png`` paths.
        """
        from pmnet_plugin.visualization.rarity_plot import plot_error_vs_rarity
        os.makedirs(self.out_dir, exist_ok=True)
        stem = osp.join(self.out_dir, f'rarity_{self.model_name}')
        label = RARITY_LABELS[self.rarity].replace('k nearest', f'{self.knn_k} nearest')
        payload = dict(
            model_name=self.model_name, rarity=self.rarity, rarity_label=label, protocol=self.protocol,
            metrics=list(self.metrics), tail_fractions=list(self.tail_fractions), num_bins=self.num_bins,
            summary={k: _jsonable(v) for k, v in summary.items()},
            samples=[{k: _jsonable(v) for k, v in r.items()} for r in results])
        with open(stem + '.json', 'w') as f:
            json.dump(payload, f, indent=1)
        metric = self.metrics[0]
        plot_error_vs_rarity(
            [dict(label=self.model_name, rarity=[r['rarity'] for r in results],
                  error=[r[metric] for r in results])],
            stem + '.png', metric=metric, num_bins=self.plot_bins, rarity_label=label,
            tail_fraction=self.tail_fractions[0], title=f'{metric} vs pose rarity ({self.rarity})')
        print_log(f'PoseRarity: wrote {stem}.json and {stem}.png', logger='current')
        return dict(json=stem + '.json', png=stem + '.png')
