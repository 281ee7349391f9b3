"""Videos of mocap clips with known SMPL parameters: ground truth for tracking and temporal smoothing.

Each person plays consecutive frames of one clip of the pose library (:mod:`.deepmimic`) in place (the
clip's root translation is dropped, its root rotation kept), turned by a fixed yaw, with fixed betas, at a
fixed place in front of a static procedural background; all people are rendered as one mesh by
:class:`~pmnet_plugin.visualization.renderer.MeshRenderer` in the part-coloured suit of the training renders.
Writes ``<name>.mp4``, ``<name>_gt.npz`` (parameters, joints, boxes) and ``<name>_boxes.json`` (the
ground-truth boxes in the COCO results layout ``tools/demo.py --bbox-file`` reads, people in random order).

Note:
    - frames: T, people: P
    - SMPL joints: 24
"""
import json
import os
import os.path as osp
from typing import Dict, Optional, Sequence

import numpy as np

from .backgrounds import make_background
from .body_texture import jitter_colors, part_vertex_colors
from .pose_sampling import canonical_to_camera

__all__ = ['clip_sequence', 'render_video_clip']


def clip_sequence(library: Dict[str, np.ndarray], clip: str, num_frames: int, start: int = 0,
                  yaw: float = 0.0, betas: Optional[np.ndarray] = None) -> Dict[str, np.ndarray]:
    """SMPL parameters of ``num_frames`` consecutive frames of one clip (looping at its end).

    Args:
        library (dict): Pose library (``poses`` (N, 72), ``clip`` (N,), ``frame`` (N,)).
        clip (str): Clip name, e.g. ``'walk'``.
        num_frames (int): Frames T.
        start (int): First frame of the clip. Defaults to 0.
        yaw (float): Turn about the vertical, radians (0 faces the camera). Defaults to 0.
        betas (np.ndarray, optional): (10,) body shape. Defaults to zeros.

    Returns:
        dict: ``global_orient`` (T, 3) camera frame, ``body_pose`` (T, 23, 3), ``betas`` (T, 10).
    """
    sel = np.flatnonzero(np.asarray(library['clip']).astype(str) == clip)
    if not len(sel):
        raise ValueError(f'clip {clip!r} is not in the pose library (have {sorted(set(library["clip"]))})')
    sel = sel[np.argsort(np.asarray(library['frame'])[sel])]
    poses = np.asarray(library['poses'], np.float64)[sel[(start + np.arange(num_frames)) % len(sel)]]
    betas = np.zeros(10) if betas is None else np.asarray(betas, np.float64)
    return dict(global_orient=canonical_to_camera(poses[:, :3], np.full(num_frames, yaw)),
                body_pose=poses[:, 3:].reshape(num_frames, 23, 3),
                betas=np.tile(betas, (num_frames, 1)))


def render_video_clip(people: Sequence[Dict[str, np.ndarray]], body_model_path: str, out_dir: str, name: str,
                      img_size: Sequence[int] = (320, 240), focal: float = 3000.0, height_fill: float = 0.7,
                      positions: Optional[Sequence[float]] = None, fps: float = 30.0,
                      seed: int = 0) -> Dict[str, np.ndarray]:
    """Renders people playing mocap sequences into a video with its ground truth.

    Args:
        people (Sequence[dict]): Per person a :func:`clip_sequence` output (same T for all).
        body_model_path (str): SMPL model file.
        out_dir (str): Output folder.
        name (str): File stem of the outputs.
        img_size (Sequence[int]): ``(W, H)`` px. Defaults to (320, 240).
        focal (float): Focal length, px (long, so that the view is close to the training renders' weak
            perspective). Defaults to 3000.
        height_fill (float): Share of the image height a 1.7 m person spans. Defaults to 0.7.
        positions (Sequence[float], optional): Horizontal place of each person's pelvis, a fraction of
            the width in [0, 1]. Defaults to evenly spaced.
        fps (float): Frame rate of the video. Defaults to 30.
        seed (int): Background and colours. Defaults to 0.

    Returns:
        dict: What ``<name>_gt.npz`` holds: ``smpl_pose`` (T, P, 72), ``betas`` (T, P, 10), ``transl``
        (T, P, 3), ``joints`` (T, P, 24, 3) camera frame with ``transl``, metres, ``bboxes`` (T, P, 4)
        xyxy px, ``fps``, ``img_size``.
    """
    import cv2
    import torch

    from pmnet_plugin.models.body_models import SMPLBodyModel
    from pmnet_plugin.visualization.renderer import MeshRenderer
    width, height = int(img_size[0]), int(img_size[1])
    num_people, num_frames = len(people), len(people[0]['betas'])
    positions = np.linspace(0, 1, num_people + 2)[1:-1] if positions is None else np.asarray(positions)
    rng = np.random.default_rng(seed)
    body = SMPLBodyModel(body_model_path).eval()
    faces = np.asarray(body.faces)
    colors = part_vertex_colors(body.smpl.lbs_weights.numpy(), body.smpl.v_template.numpy())
    depth = focal * 1.7 / (height_fill * height)
    princpt = np.array([width / 2.0, height / 2.0])
    gt = {k: [] for k in ('smpl_pose', 'betas', 'transl', 'joints', 'verts')}
    for p, person in enumerate(people):
        with torch.no_grad():
            out = body(betas=torch.as_tensor(person['betas'], dtype=torch.float32),
                       body_pose=torch.as_tensor(person['body_pose'], dtype=torch.float32).reshape(-1, 69),
                       global_orient=torch.as_tensor(person['global_orient'], dtype=torch.float32),
                       regressed=False)
        transl = np.array([(positions[p] - 0.5) * width * depth / focal, 0.0, depth])
        transl = transl - np.array([*out['joints'][0, 0, :2].numpy(), 0.0])  # pelvis of frame 0 on the spot
        gt['smpl_pose'].append(np.concatenate([person['global_orient'], person['body_pose'].reshape(-1, 69)], 1))
        gt['betas'].append(person['betas'])
        gt['transl'].append(np.tile(transl, (num_frames, 1)))
        gt['joints'].append(out['joints'][:, :24].numpy() + transl)
        gt['verts'].append(out['vertices'].numpy() + transl)
    gt = {k: np.stack(v, axis=1) for k, v in gt.items()}  # (T, P, ...)
    verts = gt.pop('verts')
    proj = verts[..., :2] / verts[..., 2:] * focal + princpt  # (T, P, V, 2)
    boxes = np.concatenate([proj.min(2), proj.max(2)], -1)
    gt['bboxes'] = np.clip(boxes, 0, [width - 1, height - 1, width - 1, height - 1]).astype(np.float32)
    vertex_colors = np.concatenate([jitter_colors(colors, rng) for _ in range(num_people)])
    all_faces = np.concatenate([faces + p * verts.shape[2] for p in range(num_people)])
    background = make_background(rng, (width, height))

    os.makedirs(out_dir, exist_ok=True)
    writer = cv2.VideoWriter(osp.join(out_dir, f'{name}.mp4'), cv2.VideoWriter_fourcc(*'mp4v'), fps,
                             (width, height))
    renderer = MeshRenderer()
    try:
        for t in range(num_frames):
            rgb, _ = renderer.render(verts[t].reshape(-1, 3), all_faces, focal, princpt, img=background,
                                     color=(1.0, 1.0, 1.0), vertex_colors=vertex_colors)
            writer.write(np.ascontiguousarray(rgb[..., ::-1]))
    finally:
        writer.release()
        renderer.close()
    gt.update(fps=np.float32(fps), img_size=np.array([width, height]), focal=np.float32(focal))
    np.savez_compressed(osp.join(out_dir, f'{name}_gt.npz'), **gt)
    detections = []
    for t in range(num_frames):
        for p in rng.permutation(num_people):
            x1, y1, x2, y2 = (float(v) for v in gt['bboxes'][t, p])
            detections.append(dict(image_id=t, bbox=[x1, y1, x2 - x1, y2 - y1], score=1.0, category_id=1))
    with open(osp.join(out_dir, f'{name}_boxes.json'), 'w') as f:
        json.dump(detections, f)
    return gt
