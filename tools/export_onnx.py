"""Export a mesh estimator (backbone + neck + head [+ SMPL]) to ONNX and check it against PyTorch.

    python tools/export_onnx.py configs/pmnet_res18-w32_1xb16-300it_synthetic-96x96.py work_dirs/pmnet/iter_400.pth \\
        --out pmnet.onnx --with-smpl --dynamic-batch

ONNX Runtime and PyTorch run the same crops; every output must agree within ``--tol`` / ``--tol-other``
(exit 1 otherwise). A checkpoint or file that does not fit exits 2, an unwritable ``--out`` 3.
``docs/deploy.md``.
"""
import argparse
import os
import os.path as osp
import sys
from typing import List, Optional

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))

import numpy as np  # noqa: E402
import torch  # noqa: E402

IMG_EXTS = ('.jpg', '.jpeg', '.png', '.bmp')


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    from mmengine.config import DictAction
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument('config')
    p.add_argument('checkpoint', nargs='?', default=None,
                   help='mesh model checkpoint (omitted: random weights, for checking the export only)')
    p.add_argument('--out', required=True, help='output .onnx file')
    p.add_argument('--with-smpl', action='store_true',
                   help='include the SMPL layer: vertices, joints, 2D keypoints and the pose rarity')
    p.add_argument('--dynamic-batch', action='store_true', help='symbolic batch dimension')
    p.add_argument('--batch-size', type=int, default=1, help='batch of the graph without --dynamic-batch')
    p.add_argument('--opset', type=int, default=17)
    p.add_argument('--images', nargs='+', help='images (or folders) whose crops are used for the check')
    p.add_argument('--num-check', type=int, default=4, help='crops in the check batch')
    p.add_argument('--tol', type=float, default=1e-4, help='max |difference| of joints/vertices (m)')
    p.add_argument('--tol-other', type=float, default=1e-3,
                   help='max |difference| of the other outputs (pose, shape, camera, pixels, rarity), '
                   'relative above magnitude 1')
    p.add_argument('--no-check', action='store_true', help='skip the ONNX Runtime check')
    p.add_argument('--cfg-options', nargs='+', action=DictAction, help='config overrides')
    return p.parse_args(argv)


def _image_files(paths: List[str]) -> List[str]:
    files = []
    for path in paths:
        if osp.isdir(path):
            files += [osp.join(path, f) for f in sorted(os.listdir(path)) if f.lower().endswith(IMG_EXTS)]
        elif osp.isfile(path):
            files.append(path)
        else:
            raise FileNotFoundError(f'--images: {path} does not exist')
    if not files:
        raise ValueError(f'--images: no image ({", ".join(IMG_EXTS)}) in {paths}')
    return files


def dataset_crops(model, num: int) -> Optional[List[dict]]:
    """The first ``num`` packed samples of the config's test dataset, or None when its files are absent."""
    from mmpose.registry import DATASETS
    ds_cfg = model.cfg.test_dataloader.dataset
    ann = osp.join(ds_cfg.get('data_root', '') or '', ds_cfg.get('ann_file', '') or '')
    if not osp.isfile(ann):
        return None
    dataset = DATASETS.build(ds_cfg)
    return [dataset[i] for i in range(min(num, len(dataset)))]


def rendered_images(model, num: int, seed: int = 0) -> List[np.ndarray]:
    """BGR images of the head's body model in ``num`` poses (prototypes for PM-Net, else random).

    The body is upright facing the camera, placed like the offline dataset's renders
    (``place_in_crop``) on a random background, at twice the network input size.
    """
    from pmnet_plugin.synthetic.backgrounds import make_background
    from pmnet_plugin.synthetic.pose_sampling import place_in_crop
    from pmnet_plugin.utils.rotation import axis_angle_to_matrix
    from pmnet_plugin.visualization.renderer import MeshRenderer
    head, rng = model.head, np.random.default_rng(seed)
    size = 2 * int(max(head.input_size))
    if hasattr(head, 'prototype_rotmats'):
        body = head.prototype_rotmats()[torch.arange(num) % head.num_prototypes, 1:]
    else:
        body = axis_angle_to_matrix(torch.from_numpy(rng.normal(0, 0.3, (num, 23, 3))).float())
    orient = axis_angle_to_matrix(torch.tensor([[np.pi, 0.0, 0.0]])).expand(num, 1, 3, 3)
    with torch.no_grad():
        verts = head.body_model(betas=head.init_betas.expand(num, -1), body_pose=body,
                                global_orient=orient)['vertices'].double().numpy()
    renderer, faces, images = MeshRenderer(), np.asarray(head.body_model.faces), []
    for v in verts:
        v = v + place_in_crop(v, rng, img_size=size, focal=5000.0)
        rgb, _ = renderer.render(v, faces, 5000.0, (size / 2, size / 2),
                                 img=make_background(rng, (size, size)), color=(0.8, 0.6, 0.5))
        images.append(np.ascontiguousarray(rgb[..., ::-1]))
    return images


def check_crops(model, args) -> tuple:
    """(crops (N, 3, H, W) float32, description) for the parity check."""
    from mmengine.dataset import pseudo_collate

    from pmnet_plugin.apis import crop_data
    if args.images:
        files = _image_files(args.images)[:args.num_check]
        data, source = [d for f in files for d in crop_data(model, f)], f'{len(files)} image(s) from --images'
    else:
        data = dataset_crops(model, args.num_check)
        source = 'the config\'s test dataset'
        if data is None:
            data = [d for img in rendered_images(model, args.num_check) for d in crop_data(model, img)]
            source = 'renders of the head\'s body model'
    inputs = torch.stack([torch.as_tensor(x) for x in pseudo_collate(data)['inputs']]).float()
    return inputs, f'{len(inputs)} crops of {tuple(inputs.shape[2:])} px from {source}'


def run_check(model, onnx_file: str, crops: torch.Tensor, tol: float, tol_other: float = 1e-3) -> bool:
    """Runs PyTorch and ONNX Runtime on ``crops``, prints the comparison, returns whether it passed."""
    from pmnet_plugin.apis.onnx_backend import MeshExportModule, OnnxMeshSession, compare_outputs
    session = OnnxMeshSession(onnx_file)
    got = session.run(crops.numpy())
    module = MeshExportModule(model, with_smpl=session.meta['with_smpl']).eval()
    with torch.no_grad():
        ref = {k: v.float().numpy() for k, v in module.outputs(crops).items()}
    report = compare_outputs(ref, got, tol, tol_other)
    return print_verdict(report, {k: v.shape for k, v in ref.items()}, tol, tol_other)


def print_verdict(report: dict, shapes: dict, tol: float, tol_other: float) -> bool:
    """Prints one line per compared output and the verdict: PASS only when some output was compared and
    every one agrees."""
    print(f'{"output":<22} {"shape":<18} {"max |diff|":>12}  check')
    for name, r in report.items():
        unit = {'metres': ' m', 'ids': ' ids differ'}.get(r['kind'], '')
        value = f'{r["max_abs_diff"]:d}' if r['kind'] == 'ids' else f'{r["max_abs_diff"]:.3g}'
        print(f'{name:<22} {str(tuple(shapes[name])):<18} {value + unit:>12}  '
              f'{"PASS" if r["ok"] else "FAIL"}')
    ok = bool(report) and all(r['ok'] for r in report.values())
    why = '' if report else ': the graph has no output to compare'
    print(f'parity check: {"PASS" if ok else "FAIL"} ({len(report)} checked outputs; joints/vertices '
          f'tolerance {tol:g} m, prototype ids identical, other outputs {tol_other:g}){why}')
    return ok


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    from pmnet_plugin.apis import export_onnx, init_mesh_model
    from pmnet_plugin.utils.atomic_io import check_writable
    check_writable(args.out, '--out', 'Choose another --out path.')
    model = init_mesh_model(args.config, args.checkpoint, 'cpu', args.cfg_options)
    if args.checkpoint is None:
        print('warning: no checkpoint given, the model has random weights')
    crops, source = check_crops(model, args)
    w, h = model.head.input_size
    batch = len(crops) if args.dynamic_batch else args.batch_size
    example = crops[:batch] if len(crops) >= batch else torch.rand(batch, 3, h, w) * 255
    meta = export_onnx(model, args.out, example, with_smpl=args.with_smpl,
                       dynamic_batch=args.dynamic_batch, opset=args.opset)
    print(f'wrote {args.out} ({osp.getsize(args.out) / 2**20:.1f} MB): input {meta["input_shape"]}, '
          f'outputs {", ".join(meta["output_names"])}')
    if not meta['rarity_percentiles'] and args.with_smpl:
        print('note: the model has no rarity quantiles, rarity_percentile is NaN (docs/deploy.md)')
    if args.no_check:
        return 0
    print(f'check on {source}:')
    return 0 if run_check(model, args.out, crops, args.tol, args.tol_other) else 1


if __name__ == '__main__':
    from pmnet_plugin.utils.cli import run_with_file_errors
    sys.exit(run_with_file_errors(main))
