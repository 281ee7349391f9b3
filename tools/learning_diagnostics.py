"""Did the trained models learn from the image? Diagnostics on a HumanData test split.

For every model (a ``tools/test.py --dump`` file), on the 24 SMPL joints (root-relative, mm): MPJPE, the
spread ratio of its predictions (~0 when it predicts one body for every input), its body pose posed with
the GT orientation and shape, and for PM-Net the selector's top-1 against the nearest prototype; beside
two image-free baselines (the split's mean pose, the training mean pose with GT orientation and shape).
``--curves`` plots the training loss and MPJPE of each run.

Usage:
    python tools/learning_diagnostics.py data/synthetic/test.npz --preds HMR=hmr.npz PM-Net=pmnet.npz \
        --prototypes data/prototypes/prototypes_k32.npz --mean-params data/synthetic/smpl_mean_params.npz \
        [--curves HMR=work_dirs/hmr/.../vis_data/scalars.json ...] [--out-json d.json] [--out-md d.md] \
        [--out-plot curves.png]
"""
import argparse
import json
import os.path as osp
import sys
from typing import Dict, List, Optional

import numpy as np
import torch

sys.path.insert(0, osp.dirname(osp.abspath(__file__)))
sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from prototype_coverage import GTBody, starting_point_errors  # noqa: E402

from pmnet_plugin.analysis.learning_diagnostics import (constant_baseline_mpjpe, selector_accuracy,
                                                        spread_ratio)
from pmnet_plugin.evaluation.functional import per_sample_mpjpe, select_tail  # noqa: E402
from pmnet_plugin.models.body_models import SMPLBodyModel  # noqa: E402
from pmnet_plugin.models.body_models.smpl_io import load_mean_params  # noqa: E402
from pmnet_plugin.prototypes import load_pose_source, load_prototypes  # noqa: E402
from pmnet_plugin.prototypes.geometry import nearest_prototype  # noqa: E402
from pmnet_plugin.utils.rotation import axis_angle_to_matrix, rot6d_to_matrix  # noqa: E402


def _pairs(items: List[str], flag: str) -> Dict[str, str]:
    out = {}
    for item in items or []:
        if '=' not in item:
            sys.exit(f'learning_diagnostics: {flag} takes NAME=FILE, got {item!r}')
        name, path = item.split('=', 1)
        out[name] = path
    return out


def load_predictions(path: str, num: int) -> Dict[str, np.ndarray]:
    """A ``tools/test.py --dump`` npz, reordered by ``sample_idx`` to the split's order."""
    with np.load(path, allow_pickle=False) as f:
        d = {k: f[k] for k in f.files}
    order = np.argsort(d['sample_idx']) if 'sample_idx' in d else np.arange(len(d['keypoints_3d']))
    d = {k: v[order] for k, v in d.items() if len(v) == len(order)}
    if len(d['keypoints_3d']) != num:
        raise ValueError(f'{path}: {len(d["keypoints_3d"])} predictions for a split of {num} samples')
    return d


def subset_masks(is_rare: Optional[np.ndarray], rarity: np.ndarray) -> Dict[str, np.ndarray]:
    """Boolean masks (N,) of the test subsets: all, common / rare clips (when ``is_rare`` is known) and the
    10 % / 5 % of samples with the highest ``rarity`` (``ceil(p * N)`` samples, as ``PoseRarity``)."""
    masks = {'all': np.ones(len(rarity), bool)}
    if is_rare is not None:
        masks['common clips'] = ~np.asarray(is_rare, bool)
        masks['rare clips'] = np.asarray(is_rare, bool)
    for p in (10, 5):
        masks[f'tail {p} %'] = select_tail(rarity, p / 100)
    return masks


def diagnostics(args: argparse.Namespace) -> Dict[str, dict]:
    with np.load(args.ann, allow_pickle=False) as f:  # numeric entry; objects: load_pose_source
        gt = np.asarray(f['keypoints3d'], np.float64)[..., :3] * 1000.0
    gt = gt - gt[:, :1]
    src = load_pose_source(args.ann)
    pose = torch.as_tensor(src['poses'], dtype=torch.float32)
    betas = torch.as_tensor(src.get('betas', np.zeros((len(pose), 10))), dtype=torch.float32)
    mean_rot = rot6d_to_matrix(torch.as_tensor(load_mean_params(args.mean_params)['pose_rot6d']))
    gt_body = GTBody(SMPLBodyModel(args.body_model), pose, betas)
    mean_start = starting_point_errors(gt_body, mean_rot[None, 1:].expand(len(pose), -1, -1, -1))
    out = dict(baselines={'constant (mean test pose)': constant_baseline_mpjpe(gt),
                          'mean pose with GT orientation and shape': float(np.nanmean(mean_start['MPJPE']))},
               models={})
    # tail: largest mean vertex distance between the GT mesh and the mean-pose mesh (GT orientation and shape)
    masks = subset_masks(src.get('is_rare'), mean_start['PVE'])
    out['subset_sizes'] = {k: int(m.sum()) for k, m in masks.items()}
    out['baseline_articulation'] = {k: float(np.nanmean(mean_start['MPJPE'][m])) for k, m in masks.items()}
    nearest = None
    if args.prototypes:
        pfile = load_prototypes(args.prototypes)
        protos = rot6d_to_matrix(torch.as_tensor(pfile['pose_rot6d'], dtype=torch.float32))
        nearest = nearest_prototype(pose, protos, float(pfile['tilt_weight'])).numpy()
    for name, path in _pairs(args.preds, '--preds').items():
        pred = load_predictions(path, len(gt))
        joints = np.asarray(pred['keypoints_3d'], np.float64)[:, :24] * 1000.0
        joints = joints - joints[:, :1]
        row = dict(MPJPE=float(np.nanmean(per_sample_mpjpe(joints, gt))), spread_ratio=spread_ratio(joints, gt))
        if 'smpl_pose' in pred:
            rot = axis_angle_to_matrix(torch.as_tensor(pred['smpl_pose'], dtype=torch.float32).reshape(-1, 24, 3))
            articulation = starting_point_errors(gt_body, rot[:, 1:])
            row['articulation'] = {k: float(np.nanmean(articulation['MPJPE'][m])) for k, m in masks.items()}
        if 'proto_id' in pred and nearest is not None:
            row['selector'] = selector_accuracy(pred['proto_id'].reshape(-1), nearest, len(protos))
        out['models'][name] = row
    return out


def markdown(d: Dict[str, dict], split: str) -> str:
    lines = [f'Learning diagnostics on `{split}` (24 SMPL joints, root-relative, mm):', '',
             '| model | MPJPE | body pose with GT orientation and shape: MPJPE | spread ratio (pred / GT) '
             '| selector top-1 (chance: uniform / majority) |',
             '|---|---|---|---|---|']
    for name, row in d['models'].items():
        sel = row.get('selector')
        sel_txt = (f'{sel["accuracy"]:.3f} ({sel["chance_uniform"]:.3f} / {sel["chance_majority"]:.3f})'
                   if sel else 'n/a')
        art_txt = f'{row["articulation"]["all"]:.1f}' if 'articulation' in row else 'n/a'
        lines.append(f'| {name} | {row["MPJPE"]:.1f} | {art_txt} | {row["spread_ratio"]:.2f} | {sel_txt} |')
    for name, value in d['baselines'].items():
        if name.startswith('constant'):
            lines.append(f'| baseline: {name} | {value:.1f} | - | 0.00 | - |')
        else:  # the mean pose posed with the GT orientation: both columns are the same number
            lines.append(f'| baseline: {name} | {value:.1f} | {value:.1f} | - | - |')
    rows = {n: r['articulation'] for n, r in d['models'].items() if 'articulation' in r}
    if rows:
        names = list(d['subset_sizes'])
        lines += ['', 'Body pose with GT orientation and shape (articulation only), MPJPE by subset; tails = the '
                  'samples whose GT mesh is farthest from the mean-pose mesh:', '',
                  '| model | ' + ' | '.join(f'{k} (n={d["subset_sizes"][k]})' for k in names) + ' |',
                  '|---|' + '---|' * len(names)]
        rows['baseline: mean pose'] = d['baseline_articulation']
        for n, r in rows.items():
            lines.append(f'| {n} | ' + ' | '.join(f'{r[k]:.1f}' for k in names) + ' |')
    return '\n'.join(lines)


def read_scalars(path: str) -> Dict[str, np.ndarray]:
    """Training scalars of an MMEngine ``vis_data/scalars.json`` (one JSON object per line)."""
    rows = [json.loads(line) for line in open(path) if line.strip()]
    rows = [r for r in rows if 'loss' in r and 'iter' in r]
    keys = ('iter', 'loss', 'mpjpe')
    return {k: np.array([r.get(k, np.nan) for r in rows], np.float64) for k in keys}


def plot_curves(curves: Dict[str, str], out: str) -> None:
    """Loss and training MPJPE against iteration, one line per run."""
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for name, path in curves.items():
        if not osp.isfile(path):  # a run shorter than the logging interval logs no scalars
            print(f'learning_diagnostics: no training scalars at {path}, curve of {name} skipped')
            continue
        s = read_scalars(path)
        axes[0].plot(s['iter'], s['loss'], label=name)
        axes[1].plot(s['iter'], s['mpjpe'], label=name)
    axes[0].set_ylabel('total loss')
    axes[0].set_yscale('log')
    axes[1].set_ylabel('training MPJPE (mm, SMPL-24)')
    for ax in axes:
        ax.set_xlabel('iteration')
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('ann', help='HumanData test split (SMPL-24 keypoints3d)')
    p.add_argument('--preds', nargs='+', default=[], help='NAME=dump.npz from tools/test.py --dump')
    p.add_argument('--prototypes', help='prototype file (for the selector accuracy)')
    p.add_argument('--body-model', default='data/body_models/smpl/SMPL_NEUTRAL.pkl')
    p.add_argument('--mean-params', default='data/body_models/smpl_mean_params.npz')
    p.add_argument('--curves', nargs='+', default=[], help='NAME=vis_data/scalars.json')
    p.add_argument('--out-json')
    p.add_argument('--out-md')
    p.add_argument('--out-plot', help='training-curve plot (needs --curves)')
    args = p.parse_args()
    d = diagnostics(args)
    text = markdown(d, osp.basename(args.ann))
    print(text)
    if args.out_json:
        with open(args.out_json, 'w') as f:
            json.dump(d, f, indent=1)
    if args.out_md:
        with open(args.out_md, 'w') as f:
            f.write(text + '\n')
    if args.out_plot and args.curves:
        plot_curves(_pairs(args.curves, '--curves'), args.out_plot)


if __name__ == '__main__':
    from pmnet_plugin.utils.cli import run_with_file_errors
    sys.exit(run_with_file_errors(main))
