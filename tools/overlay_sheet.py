"""Side-by-side mesh overlays of several models on rare and common samples of a HumanData test split.

Rows are samples (half from rare clips, half from common ones, as flagged by ``meta['is_rare']``), columns
are the input crop and one overlay per model, each labelled with the model's name and the sample's clip.

Usage:
    python tools/overlay_sheet.py data/synthetic/test.npz --out overlays.png \
        --models configs/hmr_res18_synthetic.py=hmr.pth configs/pmnet_res18_synthetic.py=pmnet.pth \
        [--labels HMR PM-Net] [--num 8]
"""
import argparse
import os
import os.path as osp
import sys

import cv2
import numpy as np

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))
os.environ.setdefault('PYOPENGL_PLATFORM', 'osmesa')

from pmnet_plugin.apis import init_mesh_model, inference_mesh  # noqa: E402
from pmnet_plugin.visualization import MeshVisualizer  # noqa: E402


def pick_samples(ann: str, num: int, seed: int = 0):
    """Returns (image paths, xyxy boxes, clip names, rare flags) of ``num`` samples, half rare."""
    data = np.load(ann, allow_pickle=True)
    meta = data['meta'].item() if data['meta'].shape == () else dict(data['meta'])
    rare = np.asarray(meta['is_rare'], bool)
    clips = np.asarray(meta['clip']).astype(str)
    rng = np.random.default_rng(seed)
    idx_rare = rng.permutation(np.flatnonzero(rare))[:num // 2]
    idx_common = rng.permutation(np.flatnonzero(~rare))[:num - len(idx_rare)]
    idx = np.concatenate([idx_common, idx_rare])
    root = osp.join(osp.dirname(ann), osp.splitext(osp.basename(ann))[0])
    paths = [osp.join(root, str(p)) for p in data['image_path'][idx]]
    xywh = data['bbox_xywh'][idx, :4].astype(np.float32)
    boxes = np.concatenate([xywh[:, :2], xywh[:, :2] + xywh[:, 2:]], axis=1)
    return paths, boxes, clips[idx], rare[idx]


def label(img: np.ndarray, text: str) -> np.ndarray:
    """Writes ``text`` in the top-left corner of an RGB image (copy)."""
    img = img.copy()
    cv2.putText(img, text, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(img, text, (4, 14), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return img


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('ann', help='HumanData test split, e.g. data/synthetic/test.npz')
    p.add_argument('--models', nargs='+', required=True, help='CONFIG=CHECKPOINT pairs')
    p.add_argument('--labels', nargs='+', help='one label per model (default: config names)')
    p.add_argument('--num', type=int, default=8, help='samples (half rare, half common)')
    p.add_argument('--out', default='overlays.png')
    p.add_argument('--seed', type=int, default=0)
    args = p.parse_args()

    pairs = [m.split('=', 1) for m in args.models]
    labels = args.labels or [osp.splitext(osp.basename(c))[0] for c, _ in pairs]
    paths, boxes, clips, rare = pick_samples(args.ann, args.num, args.seed)
    images = [cv2.cvtColor(cv2.imread(pth), cv2.COLOR_BGR2RGB) for pth in paths]
    columns = [[label(img, f'{c} ({"rare" if r else "common"})') for img, c, r in zip(images, clips, rare)]]
    for (cfg, ckpt), name in zip(pairs, labels):
        model = init_mesh_model(cfg, ckpt, device='cpu')
        vis = MeshVisualizer(side_view=False)
        vis.set_dataset_meta(model.dataset_meta)
        vis.set_faces(model.head.body_model.faces)
        col = []
        for img, pth, box in zip(images, paths, boxes):
            sample = inference_mesh(model, pth, bboxes=box[None])[0]
            overlay = vis.draw_pred_panels(img, sample, draw_bbox=False)['overlay']
            extra = ''
            if 'proto_id' in sample.pred_instances:
                extra = f' p{int(np.asarray(sample.pred_instances.proto_id).reshape(-1)[0])}'
            col.append(label(overlay, name + extra))
        columns.append(col)
    rows = [np.concatenate([col[i] for col in columns], axis=1) for i in range(len(images))]
    sheet = np.concatenate(rows, axis=0)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    cv2.imwrite(args.out, cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    print(f'wrote {args.out} ({len(images)} samples x {len(pairs)} models)')


if __name__ == '__main__':
    main()
