"""2D error of a model's heatmap joints on an SMPL split, in crop units (the crop is 2 wide), common vs rare.

    python tools/heatmap_joint_error.py configs/td-hm_effnet-lite0_1xb32-400it_synthetic-96x96.py \
        outputs/td_hm_effnet/iter_400.pth

For the 2D stage and the mesh configs' ``KeypointHeatmapNeck``: soft-argmax joints against
``SMPLLabelCodec``'s labels on the test split. ``read_by_neck`` keeps the neck's half-pixel reading,
``own_convention`` removes it (``docs/configs.md``).
"""
import argparse
import json
import os.path as osp
import sys

sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..')))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from mmengine.config import Config  # noqa: E402
from mmengine.dataset import pseudo_collate  # noqa: E402
from mmengine.registry import init_default_scope  # noqa: E402

import pmnet_plugin  # noqa: E402,F401  (registers components; torch>=2.6 checkpoint fix)
from pmnet_plugin.apis.checkpoint import load_model_checkpoint  # noqa: E402
from pmnet_plugin.models.necks.keypoint_heatmap_neck import soft_argmax  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('config')
    parser.add_argument('checkpoint')
    parser.add_argument('--beta', type=float, default=20., help='soft-argmax sharpness (the neck\'s default)')
    parser.add_argument('--batch-size', type=int, default=32)
    parser.add_argument('--data-root', help="overrides the test split's data_root")
    parser.add_argument('--out', help='write the result as JSON')
    return parser.parse_args(argv)


def heatmap_errors(cfg: Config, model: torch.nn.Module, beta: float, batch_size: int) -> dict:
    """Mean 2D error (crop units) over all, common and rare test samples."""
    from mmpose.registry import DATASETS
    size = next(tuple(t['input_size']) for t in cfg.test_dataloader.dataset.pipeline
                if t['type'] == 'TopdownAffine')
    pipeline = [dict(type='LoadImage'), dict(type='GetBBoxCenterScale', padding=1.2),
                dict(type='TopdownAffine', input_size=size),
                dict(type='GenerateTarget', encoder=dict(type='SMPLLabelCodec', input_size=size)),
                dict(type='PackPoseInputs', meta_keys=('id', 'img_path', 'is_rare', 'input_size'))]
    dataset = DATASETS.build(dict(cfg.test_dataloader.dataset, pipeline=pipeline))
    is_mesh = hasattr(model.neck, 'heatmap')
    errors, rare = {'read_by_neck': [], 'own_convention': []}, []
    for start in range(0, len(dataset), batch_size):
        batch = model.data_preprocessor(pseudo_collate([dataset[i] for i in range(
            start, min(start + batch_size, len(dataset)))]), training=False)
        with torch.no_grad():
            feats = model.backbone(batch['inputs'])
            heatmaps = model.neck(feats)[0] if is_mesh else model.head.forward(model.neck(feats))
        coords, _ = soft_argmax(heatmaps, beta)
        labels = [s.gt_instance_labels for s in batch['data_samples']]
        target = torch.stack([torch.as_tensor(x.keypoint_labels).reshape(-1, 2) for x in labels])
        weight = torch.stack([torch.as_tensor(x.keypoint_weights).reshape(-1) for x in labels]).float()
        shift = torch.tensor([1. / heatmaps.shape[-1], 1. / heatmaps.shape[-2]])  # half a heatmap px
        for name, pred in (('read_by_neck', coords), ('own_convention', coords if is_mesh else coords - shift)):
            dist = (pred - target).norm(dim=-1)
            errors[name] += ((dist * weight).sum(1) / weight.sum(1).clamp(min=1)).tolist()
        rare += [bool(s.metainfo.get('is_rare', False)) for s in batch['data_samples']]
    rare = np.asarray(rare)
    return {name: dict(all=float(np.mean(e)), common=float(np.mean(np.asarray(e)[~rare])),
                       rare=float(np.mean(np.asarray(e)[rare])) if rare.any() else None, num=len(e))
            for name, e in errors.items()}


def main(argv=None) -> dict:
    args = parse_args(argv)
    cfg = Config.fromfile(args.config)
    if args.data_root:
        cfg.test_dataloader.dataset.data_root = args.data_root
    init_default_scope('mmpose')
    from mmpose.registry import MODELS
    model = MODELS.build(cfg.model)
    load_model_checkpoint(model, args.checkpoint)
    model.eval()
    result = heatmap_errors(cfg, model, args.beta, args.batch_size)
    print(json.dumps(result, indent=1))
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(result, f, indent=1)
    return result


if __name__ == '__main__':
    main()
