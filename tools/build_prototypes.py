"""Build the PM-Net prototype memory file from a pose library or a HumanData npz.

Example::

    python tools/build_prototypes.py --poses data/mocap/pose_library.npz --k 32 \
        --out data/prototypes/prototypes_k32.npz --balanced --seed 0
"""
import argparse
import os.path as osp
import sys
from typing import List, Optional

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

from pmnet_plugin.models.prototypes import (build_prototypes, load_pose_source,  # noqa: E402
                                            save_prototypes)


def build_prototype_file(poses: str, out: str, k: int = 32, balanced: bool = False, seed: int = 0,
                         mean_params: Optional[str] = None, balance_alpha: float = 1.0,
                         num_vertices: int = 6890, verbose: bool = True) -> dict:
    """Python entry point (used by the quickstart): cluster ``poses`` and write ``out``.

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

    Returns:
        dict: The arrays written to ``out``.
    """
    src = load_pose_source(poses)
    cam = None
    if mean_params:
        from pmnet_plugin.models.body_models.smpl_io import load_mean_params
        cam = load_mean_params(mean_params)['cam']
    protos = build_prototypes(
        src['poses'], k=k, balanced=balanced, seed=seed, betas=src.get('betas'),
        is_rare=src.get('is_rare'), cam=cam, balance_alpha=balance_alpha,
        num_vertices=num_vertices, source=osp.abspath(poses), verbose=verbose)
    save_prototypes(out, protos)
    if verbose:
        print(f'wrote {out}')
    return protos


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
    return p.parse_args(argv)


def main(argv: Optional[List[str]] = None) -> None:
    a = parse_args(argv)
    build_prototype_file(a.poses, a.out, k=a.k, balanced=a.balanced, seed=a.seed,
                         mean_params=a.mean_params, balance_alpha=a.balance_alpha,
                         num_vertices=a.num_vertices)


if __name__ == '__main__':
    main()
