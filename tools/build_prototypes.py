"""Build the PM-Net prototype memory file from a pose library or a HumanData npz.

Example::

    python tools/build_prototypes.py --poses data/mocap/pose_library.npz --k 32 \
        --out data/prototypes/prototypes_k32.npz --balanced --seed 0 \
        --body-model data/body_models/smpl/SMPL_NEUTRAL.pkl --mean-params data/body_models/smpl_mean_params.npz

With ``--body-model`` the file also holds the rarity quantiles of the training poses, from which heads
report each prediction's percentile (``docs/deploy.md``).
"""
import argparse
import os
import os.path as osp
import sys
from typing import List, Optional

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from pmnet_plugin.prototypes import (build_prototypes, data_mean_params,  # noqa: E402
                                     load_pose_source, save_prototypes)


def build_prototype_file(poses: str, out: str, k: int = 32, balanced: bool = False, seed: int = 0,
                         mean_params: Optional[str] = None, balance_alpha: float = 1.0,
                         num_vertices: int = 6890, verbose: bool = True,
                         write_mean_params: Optional[str] = None,
                         body_model: Optional[str] = None, tilt_weight: float = 0.0) -> dict:
    """Cluster ``poses`` and write the prototype file ``out`` (the quickstart calls this).

    Args:
        poses (str): Pose library (``poses`` (N, 72)) or HumanData npz (``smpl`` dict).
        out (str): Output ``.npz``.
        k (int): Number of prototypes.
        balanced (bool): Inverse-density weighted k-means.
        seed (int): RNG seed.
        mean_params (str, optional): SPIN mean params; its ``cam`` is stored for every prototype.
        balance_alpha (float): Balancing strength (0 = uniform, 1 = fully balanced).
        num_vertices (int): Body-model vertex count recorded in the file.
        verbose (bool): Print cluster sizes / rare fractions.
        write_mean_params (str, optional): Also write SPIN-format mean params with the mean body pose of
            ``poses`` (orientation and camera from ``mean_params``, then required).
        body_model (str, optional): SMPL model file; adds the rarity quantiles of ``poses`` against the
            mean params (``write_mean_params`` if given, else ``mean_params``).
        tilt_weight (float): > 0: the prototypes also hold the body's tilt, weighted as this many joints
            (``PrototypeMemoryHead(tilt_weight=...)`` must match).

    Returns:
        dict: The arrays written to ``out``.
    """
    src = read_poses(poses, k)
    cam = None
    if mean_params:
        from pmnet_plugin.models.body_models.smpl_io import load_mean_params
        from pmnet_plugin.utils.rotation import rot6d_to_matrix
        ref = load_mean_params(mean_params)
        cam = ref['cam']
    if write_mean_params:
        if not mean_params:
            raise ValueError('--write-mean-params needs --mean-params (global orientation and camera)')
        orient = rot6d_to_matrix(torch.as_tensor(ref['pose_rot6d'][0])).numpy()
        os.makedirs(osp.dirname(osp.abspath(write_mean_params)), exist_ok=True)
        np.savez(write_mean_params, **data_mean_params(src['poses'], orient, cam))
        if verbose:
            print(f'wrote {write_mean_params} (mean body pose of {len(src["poses"])} poses)')
    protos = build_prototypes(
        src['poses'], k=k, balanced=balanced, seed=seed, betas=src.get('betas'),
        is_rare=src.get('is_rare'), cam=cam, balance_alpha=balance_alpha,
        num_vertices=num_vertices, source=osp.abspath(poses), verbose=verbose, tilt_weight=tilt_weight)
    if body_model:
        reference = write_mean_params or mean_params
        if not reference:
            raise ValueError('--body-model needs --mean-params: the rarity of a pose is its mesh distance '
                             'to the mean-params mesh')
        protos.update(training_rarity(src['poses'], body_model, reference))
        if verbose:
            q = protos['rarity_quantiles']
            print(f'rarity of {len(src["poses"])} training poses vs {reference} (mm): median '
                  f'{q[500]:.1f}, 90 % {q[900]:.1f}, 99 % {q[990]:.1f}, max {q[-1]:.1f}')
    save_prototypes(out, protos)
    if verbose:
        print(f'wrote {out}')
    return protos


def read_poses(path: str, k: int) -> dict:
    """:func:`load_pose_source`, refusing a file with no poses, fewer than ``k``, or non-finite ones.

    Raises:
        DataFileError: Naming the file, what is wrong and the rows (exit 2 through the tool).
    """
    from pmnet_plugin.utils.safe_pickle import DataFileError
    fix = 'Rebuild it (python tools/prepare_mocap.py) or point --poses at another file.'
    try:
        src = load_pose_source(path)
    except ValueError as err:  # an empty or ragged 'poses' array does not reshape to (N, 72)
        raise DataFileError(f'{path}: holds no poses that read as (N, 72) axis-angle rows ({err}). {fix}') from err
    poses = src['poses']
    if len(poses) == 0:
        raise DataFileError(f'{path}: holds 0 poses, nothing to cluster. {fix}')
    if poses.shape[1] != 72:
        raise DataFileError(f'{path}: poses have {poses.shape[1]} values per row, expected 72 (24 SMPL joints '
                            f'x axis-angle). {fix}')
    bad = np.flatnonzero(~np.isfinite(poses).all(1))
    if len(bad):
        raise DataFileError(f'{path}: {len(bad)} of {len(poses)} poses are not finite (rows '
                            f'{", ".join(map(str, bad[:5]))}{" ..." if len(bad) > 5 else ""}). Drop or fix '
                            f'these rows. {fix}')
    if len(poses) < k:
        raise DataFileError(f'{path}: holds {len(poses)} poses, fewer than --k {k} prototypes. Lower --k or '
                            'use a larger pose file.')
    return src


def training_rarity(poses: np.ndarray, body_model: str, mean_params: str,
                    chunk: int = 256) -> dict:
    """Rarity quantiles of training poses, scored by the ``PoseRarity`` evaluator itself.

    Args:
        poses (np.ndarray): Axis-angle poses, shape (N, 72).
        body_model (str): SMPL model file.
        mean_params (str): SPIN-format mean params (the reference mesh).
        chunk (int): Poses scored per call (bounds memory at chunk x V x 3).

    Returns:
        dict: :func:`pmnet_plugin.models.rarity.rarity_file_arrays`.
    """
    from pmnet_plugin.evaluation.metrics.pose_rarity_metric import PoseRarityMetric
    from pmnet_plugin.models.body_models.smpl_io import load_mean_params
    from pmnet_plugin.models.rarity import rarity_file_arrays
    metric = PoseRarityMetric(body_model=dict(model_path=body_model), mean_params=mean_params,
                              rarity='mesh', protocol='smpl24')
    poses = np.asarray(poses, np.float64).reshape(len(poses), -1)
    scores = np.concatenate([
        metric.rarity_scores([dict(has_smpl=True, gt_pose=p) for p in poses[s:s + chunk]])
        for s in range(0, len(poses), chunk)])
    mean = load_mean_params(mean_params)
    return rarity_file_arrays(scores, mean['pose_rot6d'], mean['betas'], body_model)


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('--poses', required=True, help='pose_library.npz or HumanData npz')
    p.add_argument('--k', type=int, default=32, help='number of prototypes')
    p.add_argument('--out', default='data/prototypes/prototypes_k32.npz')
    p.add_argument('--balanced', action='store_true', help='inverse-density weighted k-means')
    p.add_argument('--balance-alpha', type=float, default=1.0)
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--mean-params', default=None, help='smpl_mean_params.npz (camera init)')
    p.add_argument('--num-vertices', type=int, default=6890)
    p.add_argument('--write-mean-params', default=None,
                   help='also write smpl_mean_params.npz with the mean body pose of --poses')
    p.add_argument('--body-model', default=None,
                   help='SMPL model file: also store the rarity quantiles of --poses (needs --mean-params)')
    p.add_argument('--tilt-weight', type=float, default=0.0,
                   help='> 0: cluster and store the camera-frame tilt of the body too, weighted as this many '
                   'body joints (model.head.tilt_weight must match)')
    args = p.parse_args(argv)
    if args.k < 1:
        p.error(f'--k must be at least 1, got {args.k}')
    return args


def main(argv: Optional[List[str]] = None) -> None:
    a = parse_args(argv)
    build_prototype_file(a.poses, a.out, k=a.k, balanced=a.balanced, seed=a.seed,
                         mean_params=a.mean_params, balance_alpha=a.balance_alpha,
                         num_vertices=a.num_vertices, write_mean_params=a.write_mean_params,
                         body_model=a.body_model, tilt_weight=a.tilt_weight)


if __name__ == '__main__':
    from pmnet_plugin.utils.cli import run_with_file_errors
    sys.exit(run_with_file_errors(main))
