"""How close is each head's starting point to the true pose? Mean pose (HMR) vs prototypes (PM-Net).

Without training, poses the body with the mean pose and with the prototype nearest to the GT pose (an
oracle selector), each with the GT orientation and shape, and reports MPJPE / PA-MPJPE / PVE (mm) per
group and on the 10 % rarest samples.

Usage:
    python tools/prototype_coverage.py data/synthetic/test.npz data/prototypes/prototypes_k32.npz \
        [--body-model data/body_models/smpl/SMPL_NEUTRAL.pkl] \
        [--mean-params data/body_models/smpl_mean_params.npz] [--out coverage.md]
"""
import argparse
import os.path as osp
import sys
from typing import Dict

import numpy as np
import torch

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from pmnet_plugin.evaluation.functional.mesh_eval import (per_sample_mpjpe, per_sample_pve,
                                                          select_tail)
from pmnet_plugin.models.body_models import SMPLBodyModel  # noqa: E402
from pmnet_plugin.models.body_models.smpl_io import load_mean_params  # noqa: E402
from pmnet_plugin.prototypes import load_pose_source, load_prototypes  # noqa: E402
from pmnet_plugin.prototypes.geometry import nearest_prototype  # noqa: E402
from pmnet_plugin.utils.rotation import axis_angle_to_matrix, rot6d_to_matrix  # noqa: E402


class GTBody:
    """The GT meshes of a split, posed once and reused for every compared body pose.

    Args:
        body (SMPLBodyModel): The body model.
        gt_pose (Tensor): (N, 72) axis-angle SMPL poses.
        betas (Tensor): (N, 10) shapes.
    """

    @torch.no_grad()
    def __init__(self, body: SMPLBodyModel, gt_pose: torch.Tensor, betas: torch.Tensor) -> None:
        self.body, self.betas = body, betas
        self.rot = axis_angle_to_matrix(gt_pose.reshape(-1, 24, 3))  # (N, 24, 3, 3)
        self.outputs = self.root_relative_mm(self.rot[:, 1:])

    @torch.no_grad()
    def root_relative_mm(self, body_rot: torch.Tensor) -> Dict[str, np.ndarray]:
        """``joints`` (N, J, 3) and ``vertices`` (N, V, 3) in mm, relative to the root joint, of the body
        poses ``body_rot`` (N, 23, 3, 3) with the GT global orientation and betas."""
        out = self.body(betas=self.betas, body_pose=body_rot, global_orient=self.rot[:, :1])
        return {k: (v - out['joints'][:, :1]).numpy() * 1000 for k, v in out.items()
                if k in ('joints', 'vertices')}


def starting_point_errors(gt_body: GTBody, start_body: torch.Tensor) -> Dict[str, np.ndarray]:
    """Errors (mm) of body poses ``start_body`` (N, 23, 3, 3) against the GT meshes of ``gt_body``.

    Both use the GT global orientation and betas, so only the body articulation differs.

    Returns:
        dict: Per-sample ``MPJPE``, ``PA-MPJPE`` and ``PVE``, each (N, ).
    """
    gt, st = gt_body.outputs, gt_body.root_relative_mm(start_body)
    return dict(MPJPE=per_sample_mpjpe(st['joints'], gt['joints']),
                **{'PA-MPJPE': per_sample_mpjpe(st['joints'], gt['joints'], alignment='procrustes')},
                PVE=per_sample_pve(st['vertices'], gt['vertices']))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('ann', help='HumanData split (or a pose library npz with is_rare)')
    p.add_argument('prototypes', help='prototype file from tools/build_prototypes.py')
    p.add_argument('--body-model', default='data/body_models/smpl/SMPL_NEUTRAL.pkl')
    p.add_argument('--mean-params', default='data/body_models/smpl_mean_params.npz')
    p.add_argument('--out', help='write the markdown table here too')
    args = p.parse_args()

    src = load_pose_source(args.ann)
    pose = torch.as_tensor(src['poses'], dtype=torch.float32)
    betas = torch.as_tensor(src.get('betas', np.zeros((len(pose), 10))), dtype=torch.float32)
    rare = np.asarray(src.get('is_rare', np.zeros(len(pose))), bool)
    body = SMPLBodyModel(args.body_model)
    n = len(pose)

    mean_rot = rot6d_to_matrix(torch.as_tensor(load_mean_params(args.mean_params)['pose_rot6d']))
    pfile = load_prototypes(args.prototypes)
    protos = rot6d_to_matrix(torch.as_tensor(pfile['pose_rot6d'], dtype=torch.float32))
    nearest = nearest_prototype(pose, protos, float(pfile['tilt_weight']))  # the head's assignment
    starts = {'mean pose (HMR start)': mean_rot[None, 1:].expand(n, -1, -1, -1),
              'nearest prototype (PM-Net start, oracle selection)': protos[nearest, 1:]}
    gt_body = GTBody(body, pose, betas)
    errors = {name: starting_point_errors(gt_body, s) for name, s in starts.items()}

    tail = select_tail(errors['mean pose (HMR start)']['PVE'], 0.1)  # PVE to the mean = mesh rarity
    groups = {'common clips': ~rare, 'rare clips': rare, 'all': np.ones(n, bool), 'tail 10 %': tail}
    lines = [f'Starting-point error (mm) on {osp.basename(args.ann)}, {n} samples, '
             f'K={len(protos)} prototypes; GT global orientation and shape in both.', '',
             '| start | metric | ' + ' | '.join(f'{g} (n={int(m.sum())})' for g, m in groups.items()) + ' |',
             '|---|---|' + '---|' * len(groups)]
    for name, errs in errors.items():
        for metric, values in errs.items():
            cells = [f'{np.nanmean(values[m]):.1f}' if m.any() else 'n/a' for m in groups.values()]
            lines.append(f'| {name} | {metric} | ' + ' | '.join(cells) + ' |')
    text = '\n'.join(lines)
    print(text)
    if args.out:
        with open(args.out, 'w') as f:
            f.write(text + '\n')


if __name__ == '__main__':
    from pmnet_plugin.utils.cli import run_with_file_errors
    sys.exit(run_with_file_errors(main))
