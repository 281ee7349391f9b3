"""Regression heads compared on a frozen backbone: run configs, paired statistics and the report.

The protocol of Balanced MSE's HMR experiments: one backbone (here the 2D pose stage both heads start
from) is frozen, its outputs are cached once (:mod:`pmnet_plugin.analysis.feature_cache`), and each head
(with its neck) trains on them with the same schedule, batch and seeds.
"""
import math
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.config import Config

# model name -> (config, head overrides); the PM-Net rows of the table come from two of these runs
STUDY_MODELS = {
    'HMR': ('configs/hmr_effnet-lite0_1xb32-400it_synthetic-96x96.py', {}),
    'HMR-BMC': ('configs/hmr-bmc_effnet-lite0_1xb32-400it_synthetic-96x96.py', {}),
    'HMR-GAI': ('configs/hmr_effnet-lite0_1xb32-400it_synthetic-96x96.py',
                {'loss.keypoints_3d_loss': dict(type='BalancedMSEGAILoss', gmm_file=None, init_noise_sigma=0.5)}),
    'PM-Net': ('configs/pmnet_effnet-lite0_1xb32-400it_synthetic-96x96.py', {}),
    'PM-Net-oracle': ('configs/pmnet_effnet-lite0_1xb32-400it_synthetic-96x96.py', {'train_init_from_gt': True}),
    'PM-Net-rotation': ('configs/pmnet_effnet-lite0_1xb32-400it_synthetic-96x96.py',
                        {'assign_space': 'rotation', 'assign_mode': 'hard'}),
}
# selector candidates: PM-Net head overrides, compared on the body pose of the tail; ``prototypes`` asks
# for another prototype file (K, tilt weight) built from the same training poses
SELECTOR_CANDIDATES = {
    'rotation, hard': {'assign_space': 'rotation', 'assign_mode': 'hard'},
    'rotation, soft T=1': {'assign_space': 'rotation', 'assign_mode': 'soft', 'assign_temperature': 1.0},
    'joints, hard': {'assign_space': 'joints', 'assign_mode': 'hard'},
    'joints, soft T=10 mm': {'assign_space': 'joints', 'assign_mode': 'soft', 'assign_temperature': 0.01},
    'K=16': {'prototypes': dict(k=16, tilt_weight=0.0)},
    'tilt prototypes (weight 4)': {'prototypes': dict(k=32, tilt_weight=4.0)},
}
GAI_SIGMA_LR_MULT = 10.0  # the official code gives sigma its own learning rate, 10x the model's here


def study_config(name: str, data: str, caches: Dict[str, str], pose2d: Optional[str], iters: int, seed: int,
                 work_dir: str, curve_interval: int, head: Optional[dict] = None, gmm_file: Optional[str] = None,
                 root: str = '.') -> Config:
    """The training config of one study run: the model's shipped config on cached backbone outputs.

    Args:
        name (str): A key of :data:`STUDY_MODELS`.
        data (str): Dataset folder (``prototypes_k32.npz``, ``smpl_mean_params.npz``).
        caches (dict): ``train`` and ``test`` feature cache folders.
        pose2d (str, optional): The 2D stage checkpoint the neck's heatmap layers start from.
        iters (int): Training iterations (cosine schedule over them, 100 warm-up iterations).
        seed (int): Training seed.
        work_dir (str): Output folder.
        curve_interval (int): Iterations between :class:`HeadCurveHook` evaluations.
        head (dict, optional): Extra ``model.head`` overrides (selector candidates).
        gmm_file (str, optional): Label GMM of ``HMR-GAI``.
        root (str): Repository root the config paths are relative to.

    Returns:
        Config: Ready for ``Runner.from_cfg``.
    """
    rel, overrides = STUDY_MODELS[name]
    cfg = Config.fromfile(osp.join(root, rel))
    proto, mean = f'{data}/prototypes_k32.npz', f'{data}/smpl_mean_params.npz'
    cfg.model.type = 'FrozenBackboneMeshEstimator'
    cfg.model.data_preprocessor.type = 'CachedFeaturePreprocessor'
    if pose2d:
        cfg.model.init_cfg.checkpoint = pose2d
    cfg.model.head.update(mean_params=mean, rarity_file=proto)
    if 'prototype_file' in cfg.model.head:
        cfg.model.head.prototype_file = proto
    for key, value in {**overrides, **(head or {})}.items():
        if key == 'loss.keypoints_3d_loss':
            value = dict(value, gmm_file=gmm_file)
            cfg.model.head.loss.keypoints_3d_loss = value
            cfg.optim_wrapper.paramwise_cfg.custom_keys['noise_sigma'] = dict(lr_mult=GAI_SIGMA_LR_MULT)
        else:
            cfg.model.head[key] = value
    loader = dict(batch_size=32, num_workers=0, persistent_workers=False,
                  collate_fn=dict(type='cached_feature_collate'))
    cfg.train_dataloader = dict(loader, sampler=dict(type='DefaultSampler', shuffle=True),
                                dataset=dict(type='CachedFeatureDataset', cache_dir=caches['train']))
    cfg.test_dataloader = dict(loader, batch_size=100, sampler=dict(type='DefaultSampler', shuffle=False),
                               dataset=dict(type='CachedFeatureDataset', cache_dir=caches['test']))
    for ev in cfg.test_evaluator:
        if 'mean_params' in ev:
            ev.mean_params = mean
    cfg.val_dataloader, cfg.val_cfg, cfg.val_evaluator = None, None, None
    cfg.optim_wrapper.optimizer['fused'] = True  # Adam's update in one kernel per step: faster on CPU
    cfg.train_cfg = dict(by_epoch=False, max_iters=iters, val_interval=iters + 1)
    cfg.param_scheduler = [
        dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=100),
        dict(type='CosineAnnealingLR', T_max=iters, eta_min=1e-5, by_epoch=False, begin=0, end=iters)]
    cfg.default_hooks.checkpoint.update(interval=iters, max_keep_ckpts=1)
    cfg.default_hooks.logger.interval = 100
    cfg.custom_hooks = list(cfg.get('custom_hooks', [])) + [
        dict(type='HeadCurveHook', cache_dir=caches['test'], interval=curve_interval)]
    cfg.randomness = dict(seed=seed)
    cfg.work_dir = work_dir
    return cfg


# ---------------------------------------------------------------------------------------------- statistics
T_975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


def paired_ratio(values: Sequence[float], baseline: Sequence[float]) -> Dict[str, float]:
    """Mean of the per-seed ratios ``values / baseline`` with a 95 % t-interval (seeds paired).

    Returns:
        dict: ``mean``, ``low``, ``high`` (``nan`` bounds with one seed).
    """
    r = np.asarray(values, np.float64) / np.asarray(baseline, np.float64)
    n = len(r)
    if n < 2:
        return dict(mean=float(r.mean()), low=math.nan, high=math.nan)
    half = T_975.get(n - 1, 1.96) * r.std(ddof=1) / math.sqrt(n)
    return dict(mean=float(r.mean()), low=float(r.mean() - half), high=float(r.mean() + half))


def mean_std(values: Sequence[float]) -> str:
    """``mean ± std`` (mm to 0.1, accuracies to 0.001)."""
    v = np.asarray(values, np.float64)
    digits = 3 if np.abs(v).max() <= 1 else 1
    return f'{v.mean():.{digits}f} ± {v.std(ddof=1):.{digits}f}' if len(v) > 1 else f'{v.mean():.{digits}f}'


def ratio_cell(values: Sequence[float], baseline: Sequence[float]) -> str:
    r = paired_ratio(values, baseline)
    if math.isnan(r['low']):
        return f'{r["mean"]:.3f}'
    return f'{r["mean"]:.3f} [{r["low"]:.3f}, {r["high"]:.3f}]'


def results_table(rows: Dict[str, List[dict]], columns: Dict[str, str], baseline: str = 'HMR') -> str:
    """Markdown table: per row and column, mean ± std over seeds and the paired ratio to ``baseline``.

    Args:
        rows (dict): Row name -> one metrics dict per seed (seeds in the same order in every row).
        columns (dict): Column title -> metrics key.
        baseline (str): The row the ratios divide by.
    """
    head = '| model | ' + ' | '.join(columns) + ' |'
    lines = [head, '|---|' + '---|' * len(columns)]
    for name, runs in rows.items():
        cells = []
        for key in columns.values():
            vals = [r[key] for r in runs]
            base = [r[key] for r in rows[baseline]][:len(vals)]
            ratio = '' if name == baseline else f'<br>{ratio_cell(vals, base)}'
            cells.append(mean_std(vals) + ratio)
        lines.append(f'| {name} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)


def plot_curves(curves: Dict[str, List[List[dict]]], keys: Dict[str, str], out_file: str) -> str:
    """Learning curves, one panel per metric key, mean ± std band over seeds per model.

    Args:
        curves (dict): Model -> per seed the :class:`HeadCurveHook` records.
        keys (dict): Panel title -> record key.
        out_file (str): PNG path.
    """
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, len(keys), figsize=(5.5 * len(keys), 4.2))
    for ax, (title, key) in zip(np.atleast_1d(axes), keys.items()):
        for i, (name, runs) in enumerate(curves.items()):
            if key not in runs[0][0]:  # e.g. selector accuracy of an HMR head
                continue
            iters = [r['iter'] for r in runs[0]]
            vals = np.array([[r[key] for r in run[:len(iters)]] for run in runs if len(run) >= len(iters)])
            mean, std = vals.mean(0), vals.std(0)
            ax.plot(iters, mean, label=name, color=f'C{i}')  # one colour per model in every panel
            ax.fill_between(iters, mean - std, mean + std, alpha=0.2, color=f'C{i}')
        ax.set_title(title)
        ax.set_xlabel('iteration (batch 32)')
        ax.set_ylabel('accuracy' if 'top' in key else 'mm')
        ax.grid(alpha=0.3)
    np.atleast_1d(axes)[0].legend()
    fig.tight_layout()
    fig.savefig(out_file, dpi=110)
    plt.close(fig)
    return out_file
