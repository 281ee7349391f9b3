"""Writes the procedural SMPL-format body (offline stand-in for the official SMPL download).

    python tools/make_synthetic_smpl.py --out data/body_models --seed 0

Creates ``<out>/smpl/SMPL_NEUTRAL.pkl`` and ``.npz``, ``<out>/smpl/SMPL_MALE.pkl`` and ``SMPL_FEMALE.pkl``,
``<out>/J_regressor_h36m.npy``, ``<out>/J_regressor_extra.npy`` and ``<out>/smpl_mean_params.npz``. Refuses to
overwrite real SMPL/SPIN files unless ``--force`` is given.
"""
import argparse
import os.path as osp
import sys
import time

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # pmnet_plugin of this checkout

from pmnet_plugin.synthetic.procedural_body import make_synthetic_smpl


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--out', default='data/body_models', help='output folder (default: data/body_models)')
    parser.add_argument('--seed', type=int, default=0, help='generation seed (default: 0)')
    parser.add_argument('--force', action='store_true', help='overwrite files that are not synthetic')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    start = time.perf_counter()
    paths = make_synthetic_smpl(args.out, seed=args.seed, force=args.force)
    for key, path in paths.items():
        if key != 'dir':
            print(f'{key:15s} {path}')
    print(f'done in {time.perf_counter() - start:.1f} s')


if __name__ == '__main__':
    main()
