"""Contact sheet of a rendered split: half common, half rare samples, labelled, 2D joints drawn.

    python tools/contact_sheet.py DIR/test.npz --num 16 --out sheet.png
"""
import argparse
import os
import os.path as osp
import sys

import numpy as np

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('ann', help='DIR/{split}.npz')
    parser.add_argument('--num', type=int, default=16)
    parser.add_argument('--cols', type=int, default=4)
    parser.add_argument('--out', default='sheet.png')
    parser.add_argument('--no-joints', action='store_true')
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    import cv2

    from pmnet_plugin.synthetic.sheet import draw_skeleton, pick, tile
    from pmnet_plugin.synthetic.synth_dataset import load_humandata
    data = load_humandata(args.ann)
    root = os.path.splitext(args.ann)[0]
    meta = data['meta']
    idx = pick(np.asarray(meta['clip']).astype(str), np.asarray(meta['is_rare'], bool), args.num)
    images, labels = [], []
    for i in idx:
        img = cv2.imread(os.path.join(root, str(data['image_path'][i])))[..., ::-1]
        images.append(img if args.no_joints else draw_skeleton(img, data['keypoints2d'][i]))
        labels.append(f"{meta['clip'][i]}{' (rare)' if meta['is_rare'][i] else ''}")
    cv2.imwrite(args.out, tile(images, labels, cols=args.cols)[..., ::-1])
    print(f'{len(idx)} samples -> {args.out}')


if __name__ == '__main__':
    from pmnet_plugin.utils.cli import run_with_file_errors
    sys.exit(run_with_file_errors(main))
