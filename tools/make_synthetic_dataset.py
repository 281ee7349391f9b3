"""Render the offline long-tail image dataset (format: ``pmnet_plugin/synthetic/synth_dataset.py``).

    python tools/make_synthetic_dataset.py --out data/synthetic --num 5000 --rare-fraction 0.05 --seed 0 \
        [--split both] [--num-test 1000] [--test-rare-fraction 0.5] [--workers 2] [--img-size 224] \
        [--clips walk cartwheel ...] [--texture parts|flat] [--body-model ...] \
        [--pose-library data/mocap/pose_library.npz]
"""
import argparse
import json
import os
import os.path as osp
import sys

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # pmnet_plugin of this checkout


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('--out', required=True, help='output folder DIR')
    parser.add_argument('--num', type=int, default=5000, help='training images')
    parser.add_argument('--rare-fraction', type=float, default=0.05)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--clips', nargs='+', default=None)
    parser.add_argument('--img-size', type=int, default=224)
    parser.add_argument('--split', choices=['train', 'test', 'both'], default='both')
    parser.add_argument('--num-test', type=int, default=None, help='default: num // 5')
    parser.add_argument('--test-rare-fraction', type=float, default=0.5)
    parser.add_argument('--workers', type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument('--body-model', default='data/body_models/smpl/SMPL_NEUTRAL.pkl')
    parser.add_argument('--pose-library', default='data/mocap/pose_library.npz',
                        help='built from pybullet clips (and saved here) when missing')
    parser.add_argument('--focal', type=float, default=5000.0)
    parser.add_argument('--texture', choices=['parts', 'flat'], default='parts',
                        help='part-coloured suit with a face, or one flat colour per body')
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    from pmnet_plugin.synthetic.synth_dataset import make_synthetic_dataset
    summary = make_synthetic_dataset(
        args.out, num=args.num, rare_fraction=args.rare_fraction, seed=args.seed, clips=args.clips,
        img_size=args.img_size, split=args.split, num_test=args.num_test,
        test_rare_fraction=args.test_rare_fraction, workers=args.workers, body_model=args.body_model,
        pose_library=args.pose_library, focal=args.focal, texture=args.texture)
    print(json.dumps(summary, indent=1))


if __name__ == '__main__':
    main()
