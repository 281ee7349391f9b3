"""Build the real-mocap SMPL pose library from the DeepMimic clips that pybullet ships.

    python tools/prepare_mocap.py [--out data/mocap/pose_library.npz] [--motion-dir DIR]
        [--preview sheet.png --body-model data/body_models/smpl/SMPL_NEUTRAL.pkl]

``--preview`` renders a few frames of every clip with the body model into one labelled image, to check
the retargeting by eye. Mapping and frames: ``docs/data.md``.
"""
import argparse
import collections
import os
import os.path as osp
import sys

import numpy as np

sys.path.insert(0, osp.dirname(osp.dirname(osp.abspath(__file__))))  # pmnet_plugin of this checkout


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument('--out', default='data/mocap/pose_library.npz')
    parser.add_argument('--motion-dir', default=None, help="clips folder (default: pybullet_data's)")
    parser.add_argument('--preview', default=None, help='write a sheet of rendered frames here')
    parser.add_argument('--body-model', default='data/body_models/smpl/SMPL_NEUTRAL.pkl')
    parser.add_argument('--frames-per-clip', type=int, default=6)
    parser.add_argument('--yaw-deg', type=float, default=-45.0, help='preview camera yaw (0 = facing us)')
    return parser.parse_args()


def render_preview(lib: dict, body_model: str, out: str, per_clip: int, yaw_deg: float) -> None:
    """Render ``per_clip`` evenly spaced frames of every clip, one row per clip."""
    import cv2
    import torch

    from pmnet_plugin.models.body_models import SMPLBodyModel
    from pmnet_plugin.synthetic.pose_sampling import canonical_to_camera, place_in_crop
    from pmnet_plugin.synthetic.sheet import tile
    from pmnet_plugin.visualization.renderer import MeshRenderer
    body, renderer = SMPLBodyModel(body_model).eval(), MeshRenderer()
    images, labels = [], []
    for name in dict.fromkeys(lib['clip']):
        idx = np.flatnonzero(lib['clip'] == name)
        idx = idx[np.linspace(0, len(idx) - 1, per_clip).round().astype(int)]
        orient = canonical_to_camera(lib['poses'][idx, :3], np.full(len(idx), np.deg2rad(yaw_deg)))
        with torch.no_grad():
            out_b = body(betas=torch.zeros(len(idx), 10), body_pose=torch.from_numpy(lib['poses'][idx, 3:]),
                         global_orient=torch.from_numpy(orient.astype(np.float32)))
        for k, verts in enumerate(out_b['vertices'].numpy()):
            transl = place_in_crop(verts, None, img_size=160)
            rgb, _ = renderer.render(verts + transl, body.faces, 5000.0, (80.0, 80.0),
                                     img=np.full((160, 160, 3), 235, np.uint8))
            images.append(rgb)
            labels.append(f'{name} {lib["frame"][idx[k]]}')
    cv2.imwrite(out, tile(images, labels, cols=per_clip)[..., ::-1])
    print(f'preview: {out}')


def main() -> None:
    args = parse_args()
    from pmnet_plugin.synthetic.deepmimic import build_pose_library, save_pose_library
    lib = build_pose_library(args.motion_dir)
    save_pose_library(lib, args.out)
    counts = collections.Counter(lib['clip'].tolist())
    for name, count in counts.items():
        rare = 'rare' if lib['is_rare'][lib['clip'] == name][0] else 'common'
        print(f'{name:16s} {count:4d} frames  {rare}')
    print(f'{len(lib["clip"])} frames ({int(lib["is_rare"].sum())} rare) -> {args.out}')
    if args.preview:
        os.makedirs(os.path.dirname(os.path.abspath(args.preview)), exist_ok=True)
        render_preview(lib, args.body_model, args.preview, args.frames_per_clip, args.yaw_deg)


if __name__ == '__main__':
    main()
