"""Side-by-side mesh overlays of several models on rare and common samples of a HumanData test split.

Rows are samples (half from rare clips, half from common ones, as flagged by ``meta['is_rare']``, cycling
through the clips), columns are the input crop and one overlay per model, each labelled with the model's
name (and the chosen prototype for PM-Net) and the sample's clip.

Usage:
    python tools/overlay_sheet.py data/synthetic/test.npz --out overlays.png \
        --models configs/hmr_res18-w32_1xb16-300it_synthetic-96x96.py=hmr.pth \
                 configs/pmnet_res18-w32_1xb16-300it_synthetic-96x96.py=pmnet.pth \
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

from mmpose.structures.bbox import bbox_xywh2xyxy  # noqa: E402

from pmnet_plugin.apis import inference_mesh, init_mesh_model  # noqa: E402
from pmnet_plugin.synthetic.sheet import pick, tile  # noqa: E402
from pmnet_plugin.synthetic.synth_dataset import load_humandata  # noqa: E402
from pmnet_plugin.utils.cli import run_with_file_errors  # noqa: E402
from pmnet_plugin.visualization import MeshVisualizer  # noqa: E402


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('ann', help='HumanData test split, e.g. data/synthetic/test.npz')
    p.add_argument('--models', nargs='+', required=True, help='CONFIG=CHECKPOINT pairs')
    p.add_argument('--labels', nargs='+', help='one label per model (default: config names)')
    p.add_argument('--num', type=int, default=8, help='samples (half rare, half common)')
    p.add_argument('--out', default='overlays.png')
    args = p.parse_args(argv)

    pairs = [m.split('=', 1) for m in args.models]
    names = args.labels or [osp.splitext(osp.basename(c))[0] for c, _ in pairs]
    data = load_humandata(args.ann)
    clips = np.asarray(data['meta']['clip']).astype(str)
    rare = np.asarray(data['meta']['is_rare'], bool)
    idx = pick(clips, rare, args.num)
    root = osp.splitext(args.ann)[0]
    paths = [osp.join(root, str(data['image_path'][i])) for i in idx]
    boxes = bbox_xywh2xyxy(data['bbox_xywh'][idx, :4].astype(np.float32))
    images = [cv2.imread(pth)[..., ::-1] for pth in paths]

    cells = {(r, 0): (img, f'{clips[i]} ({"rare" if rare[i] else "common"})')
             for r, (img, i) in enumerate(zip(images, idx))}
    for c, ((cfg, ckpt), name) in enumerate(zip(pairs, names), start=1):
        model = init_mesh_model(cfg, ckpt, device='cpu')
        vis = MeshVisualizer(side_view=False)
        vis.set_dataset_meta(model.dataset_meta)
        vis.set_faces(model.head.body_model.faces)
        for r, (img, pth, box) in enumerate(zip(images, paths, boxes)):
            sample = inference_mesh(model, pth, bboxes=box[None])[0]
            label = name
            if 'proto_id' in sample.pred_instances:
                label += f' p{int(np.asarray(sample.pred_instances.proto_id).reshape(-1)[0])}'
            cells[r, c] = (vis.draw_pred_panels(img, sample, draw_bbox=False)['overlay'], label)
    cols = 1 + len(pairs)
    order = [cells[r, c] for r in range(len(images)) for c in range(cols)]
    sheet = tile([im for im, _ in order], [lb for _, lb in order], cols=cols)
    os.makedirs(osp.dirname(osp.abspath(args.out)), exist_ok=True)
    cv2.imwrite(args.out, sheet[..., ::-1])
    print(f'wrote {args.out} ({len(images)} samples x {len(pairs)} models)')


if __name__ == '__main__':
    sys.exit(run_with_file_errors(main))
