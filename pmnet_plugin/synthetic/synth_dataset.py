"""Offline long-tail image dataset: SMPL bodies in real mocap poses rendered over procedural backgrounds.

Poses come from the DeepMimic pose library (:mod:`.deepmimic`), sampled, split and placed in the crop by
:mod:`.pose_sampling`. Writes ``DIR/{split}/images/*.jpg``, ``DIR/{split}.npz`` (HumanData-style labels)
and ``DIR/body_model.npz``; the keys and the sampling choices are in ``docs/data.md``.
"""
import multiprocessing as mp
import os
import time
from typing import Dict, List, Optional, Sequence

import numpy as np

from pmnet_plugin.utils.safe_pickle import load_npz
from .backgrounds import make_background, random_color
from .body_texture import jitter_colors, part_vertex_colors
from .deepmimic import build_pose_library, load_pose_library, save_pose_library
from .pose_sampling import place_in_crop, sample_indices, sample_smpl_params, split_masks

_SPLIT_IDS = {'train': 0, 'test': 1}
_LABEL_KEYS = ('bbox_xywh', 'keypoints2d', 'keypoints3d', 'transl')
_WORKER: dict = {}


def _init_worker(body_model_path: str, torch_threads: Optional[int] = None) -> None:
    """Load the body model and the renderer once per process (``torch_threads`` set in workers only)."""
    import torch
    if torch_threads:
        torch.set_num_threads(torch_threads)
    from pmnet_plugin.models.body_models import SMPLBodyModel
    from pmnet_plugin.visualization.renderer import MeshRenderer
    _WORKER['body'] = SMPLBodyModel(body_model_path).eval()
    _WORKER['faces'] = np.asarray(_WORKER['body'].faces)
    smpl = _WORKER['body'].smpl
    _WORKER['part_colors'] = part_vertex_colors(smpl.lbs_weights.numpy(), smpl.v_template.numpy())
    _WORKER['renderer'] = MeshRenderer()


def _render_chunk(task: dict) -> Dict[str, np.ndarray]:
    """Render ``task['index']`` samples (runs in a worker or in the main process).

    Returns:
        dict: ``index`` (M,) and per-sample labels ``bbox_xywh`` (M, 5), ``keypoints2d`` (M, 24, 3),
        ``keypoints3d`` (M, 24, 4), ``transl`` (M, 3).
    """
    import cv2
    import torch
    body, renderer, faces = _WORKER['body'], _WORKER['renderer'], _WORKER['faces']
    size, focal = task['img_size'], task['focal']
    princpt = np.array([size / 2.0, size / 2.0])
    with torch.no_grad():
        out = body(betas=torch.from_numpy(task['betas']),
                   body_pose=torch.from_numpy(task['body_pose']).reshape(-1, 69),
                   global_orient=torch.from_numpy(task['global_orient']))
    verts_all = out['vertices'].numpy().astype(np.float64)
    joints_all = out['joints'][:, :24].numpy().astype(np.float64)
    labels: Dict[str, list] = {k: [] for k in _LABEL_KEYS}
    for k, idx in enumerate(task['index']):
        rng = np.random.default_rng([task['seed'], _SPLIT_IDS[task['split']], int(idx)])
        transl = place_in_crop(verts_all[k], rng, img_size=size, focal=focal)
        verts, joints = verts_all[k] + transl, joints_all[k] + transl
        background = make_background(rng, (size, size))
        light_dir = (rng.uniform(-0.8, 0.8), rng.uniform(-0.2, 1.0), 1.0)
        if task['texture'] == 'parts':
            color, vertex_colors = (1.0, 1.0, 1.0), jitter_colors(_WORKER['part_colors'], rng)
        else:
            color, vertex_colors = random_color(rng, sat=(0.1, 0.7), val=(0.45, 0.95)), None
        rgb, mask = renderer.render(verts, faces, focal, princpt, img=background, color=color,
                                    light_intensity=rng.uniform(1.5, 4.0), light_dir=light_dir,
                                    vertex_colors=vertex_colors)
        cv2.imwrite(os.path.join(task['img_dir'], f'{idx:06d}.jpg'), rgb[..., ::-1],
                    [cv2.IMWRITE_JPEG_QUALITY, 92])
        keypoints = joints[:, :2] / joints[:, 2:] * focal + princpt
        ys, xs = np.nonzero(mask)
        if len(xs):
            box = [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1, 1.0]
        else:  # body off-screen cannot happen with place_in_crop; keep the labels defined anyway
            box = [*keypoints.min(0), *(keypoints.max(0) - keypoints.min(0)), 1.0]
        labels['bbox_xywh'].append(np.asarray(box, np.float32))
        labels['keypoints2d'].append(np.concatenate([keypoints, np.ones((24, 1))], 1))
        labels['keypoints3d'].append(np.concatenate([joints - joints[:1], np.ones((24, 1))], 1))
        labels['transl'].append(transl)
    result = {k: np.stack(v).astype(np.float32) for k, v in labels.items()}
    result['index'] = np.asarray(task['index'], np.int64)
    return result


def render_split(params: Dict[str, np.ndarray], split_dir: str, split: str, seed: int, body_model: str,
                 img_size: int = 224, focal: float = 5000.0, workers: int = 1,
                 chunk: int = 32, texture: str = 'parts') -> Dict[str, np.ndarray]:
    """Render every sample of ``params`` into ``split_dir/images`` and return the labels in order.

    Args:
        params (dict): output of :func:`~pmnet_plugin.synthetic.pose_sampling.sample_smpl_params`.
        split_dir (str): ``DIR/{split}``.
        split (str): 'train' or 'test' (part of the per-image random seed).
        seed (int): dataset seed.
        body_model (str): SMPL model file.
        img_size (int): image side, px. Defaults to 224.
        focal (float): px. Defaults to 5000.
        workers (int): processes ('spawn'); <= 1 renders in this process. Defaults to 1.
        chunk (int): samples per task. Defaults to 32.
        texture (str): 'parts' (the suit of :mod:`.body_texture`) or 'flat' (one random colour).
            Defaults to 'parts'.

    Returns:
        dict: ``bbox_xywh`` (N, 5), ``keypoints2d`` (N, 24, 3), ``keypoints3d`` (N, 24, 4), ``transl`` (N, 3).
    """
    img_dir = os.path.join(split_dir, 'images')
    os.makedirs(img_dir, exist_ok=True)
    num = len(params['betas'])
    if texture not in ('parts', 'flat'):
        raise ValueError(f"texture must be 'parts' or 'flat', got {texture!r}")
    tasks = [dict(index=np.arange(s, min(s + chunk, num)), split=split, seed=seed, img_size=img_size,
                  focal=focal, img_dir=img_dir, texture=texture,
                  **{k: np.ascontiguousarray(params[k][s:s + chunk], np.float32)
                     for k in ('betas', 'body_pose', 'global_orient')})
             for s in range(0, num, chunk)]
    results: List[Dict[str, np.ndarray]] = []
    start, done, next_report = time.time(), 0, 0.0

    def report(res: Dict[str, np.ndarray]) -> None:
        nonlocal done, next_report
        results.append(res)
        done += len(res['index'])
        if done / num >= next_report or done == num:
            next_report = done / num + 0.1
            rate = done / max(time.time() - start, 1e-6)
            print(f'[{split}] {done}/{num} images, {rate:.1f} img/s', flush=True)

    if workers <= 1:
        _init_worker(body_model)
        try:
            for task in tasks:
                report(_render_chunk(task))
        finally:
            _WORKER.pop('renderer').close()
            _WORKER.clear()
    else:
        ctx = mp.get_context('spawn')
        with ctx.Pool(workers, initializer=_init_worker, initargs=(body_model, 1)) as pool:
            for res in pool.imap_unordered(_render_chunk, tasks):
                report(res)
    order = np.argsort(np.concatenate([r['index'] for r in results]))
    return {k: np.concatenate([r[k] for r in results])[order] for k in _LABEL_KEYS}


def write_humandata(path: str, params: Dict[str, np.ndarray], labels: Dict[str, np.ndarray],
                    img_size: int, focal: float, body_fingerprint: str = '', body_file: str = '') -> None:
    """Write one split's labels (keys in ``docs/data.md``).

    ``body_fingerprint`` and ``body_file`` name the body model the images were rendered with.
    """
    num = len(params['betas'])
    conventions = dict(config='pmnet_synthetic', keypoints2d_convention='smpl',
                       keypoints3d_convention='smpl')
    smpl = dict(global_orient=params['global_orient'].astype(np.float32),
                body_pose=params['body_pose'].astype(np.float32), betas=params['betas'].astype(np.float32),
                transl=labels['transl'].astype(np.float32))
    meta = dict(gender=np.full(num, 'neutral'), clip=params['clip'].astype(str), is_rare=params['is_rare'],
                frame=params['frame'], yaw=params['yaw'], body_model_fingerprint=body_fingerprint,
                body_model_file=body_file, **conventions)
    cam_param = dict(focal=np.array([focal, focal], np.float32),
                     princpt=np.array([img_size / 2.0, img_size / 2.0], np.float32),
                     img_size=np.array([img_size, img_size], np.int64))
    np.savez_compressed(
        path, image_path=np.array([f'images/{i:06d}.jpg' for i in range(num)]),
        bbox_xywh=labels['bbox_xywh'], keypoints2d=labels['keypoints2d'],
        keypoints2d_mask=np.ones(24, np.uint8), keypoints3d=labels['keypoints3d'],
        keypoints3d_mask=np.ones(24, np.uint8), smpl=smpl, cam_param=cam_param, meta=meta,
        __data_len__=num, body_model_fingerprint=np.array(body_fingerprint), **conventions)


def save_render_body(body_model: str, out_file: str) -> str:
    """Writes the arrays of the SMPL model file ``body_model`` to ``out_file`` (a compressed ``.npz``, far
    smaller than the ``.pkl``), so that renders travel with their body; returns its fingerprint."""
    from pmnet_plugin.models.body_models.fingerprint import fingerprint_arrays
    from pmnet_plugin.models.body_models.smpl_io import load_smpl_model_file
    arrays = load_smpl_model_file(body_model)
    np.savez_compressed(out_file, **{k: v for k, v in arrays.items()
                                     if isinstance(v, np.ndarray) and v.dtype != object})
    return fingerprint_arrays(arrays)


def load_humandata(path: str) -> Dict[str, object]:
    """Load a split written by :func:`write_humandata`; dict entries come back as dicts.

    Object entries go through :func:`~pmnet_plugin.utils.safe_pickle.load_npz`: a file naming any
    other Python global raises ``UnsafePickleError`` naming the file and runs nothing.
    """
    out = load_npz(path, 'a HumanData .npz', 'Regenerate it (python tools/make_synthetic_dataset.py).')
    for key, value in out.items():
        if value.dtype == object and value.ndim == 0:
            out[key] = value.item()
        elif value.ndim == 0:
            out[key] = value.item()
    return out


def get_pose_library(path: Optional[str]) -> Dict[str, np.ndarray]:
    """Load the pose library at ``path``; build it from pybullet's clips (and save it there) if missing."""
    if path and os.path.exists(path):
        return load_pose_library(path)
    lib = build_pose_library()
    if path:
        save_pose_library(lib, path)
    return lib


def make_synthetic_dataset(out_dir: str, num: int = 5000, rare_fraction: float = 0.05, seed: int = 0,
                           clips: Optional[Sequence[str]] = None, img_size: int = 224, split: str = 'both',
                           num_test: Optional[int] = None, test_rare_fraction: float = 0.5,
                           workers: int = 1,
                           body_model: str = 'data/body_models/smpl/SMPL_NEUTRAL.pkl',
                           pose_library: Optional[str] = 'data/mocap/pose_library.npz',
                           focal: float = 5000.0, noise_deg: float = 3.0,
                           texture: str = 'parts') -> Dict[str, dict]:
    """Sample, render and write the offline dataset (file format in ``docs/data.md``).

    Args:
        out_dir (str): output folder ``DIR``.
        num (int): training images. Defaults to 5000.
        rare_fraction (float): share of rare-clip poses in train. Defaults to 0.05.
        seed (int): everything is a function of it (not of ``workers``). Defaults to 0.
        clips (Sequence[str], optional): restrict to these clip names.
        img_size (int): image side, px. Defaults to 224.
        split (str): 'train', 'test' or 'both'. Defaults to 'both'.
        num_test (int, optional): test images; defaults to ``num // 5`` (``num`` when ``split='test'``).
        test_rare_fraction (float): share of rare-clip poses in test. Defaults to 0.5.
        workers (int): rendering processes ('spawn'). Defaults to 1.
        body_model (str): SMPL model file.
        pose_library (str, optional): pose library ``.npz``; built from pybullet's clips when missing.
        focal (float): px at ``img_size``. Defaults to 5000.
        noise_deg (float): per-joint pose noise, degrees. Defaults to 3.
        texture (str): 'parts' or 'flat' (:func:`render_split`). Defaults to 'parts'.

    Returns:
        dict: per split, ``path`` (the ``.npz``), ``num``, ``rare_fraction`` (measured), ``seconds``,
        ``images_per_s``.
    """
    if split not in ('train', 'test', 'both'):
        raise ValueError(f"split must be 'train', 'test' or 'both', got {split!r}")
    lib = get_pose_library(pose_library)
    keep = np.ones(len(lib['clip']), bool) if clips is None else np.isin(lib['clip'], list(clips))
    if not keep.any():
        raise ValueError(f'no library frame belongs to clips {clips}')
    train_mask, test_mask = split_masks(lib['clip'], lib['frame'])
    if num_test is None:
        num_test = num if split == 'test' else max(1, num // 5)
    plan = {'train': (num, rare_fraction, train_mask), 'test': (num_test, test_rare_fraction, test_mask)}
    os.makedirs(out_dir, exist_ok=True)
    fingerprint = save_render_body(body_model, os.path.join(out_dir, 'body_model.npz'))
    summary = {}
    for name in (('train', 'test') if split == 'both' else (split, )):
        count, fraction, mask = plan[name]
        rng = np.random.default_rng([seed, _SPLIT_IDS[name]])
        indices = sample_indices(lib['is_rare'], mask & keep, count, fraction, rng)
        params = sample_smpl_params(lib, indices, rng, noise_deg=noise_deg)
        start = time.time()
        labels = render_split(params, os.path.join(out_dir, name), name, seed, body_model,
                              img_size=img_size, focal=focal, workers=workers, texture=texture)
        seconds = time.time() - start
        path = os.path.join(out_dir, f'{name}.npz')
        write_humandata(path, params, labels, img_size, focal, fingerprint, os.path.basename(body_model))
        summary[name] = dict(path=path, num=count, rare_fraction=float(params['is_rare'].mean()),
                             seconds=seconds, images_per_s=count / max(seconds, 1e-6))
        print(f'[{name}] wrote {count} images + {path} in {seconds:.1f} s '
              f'({summary[name]["images_per_s"]:.1f} img/s, rare {summary[name]["rare_fraction"]:.3f})')
    return summary
