"""Tiny HumanData / SPIN files with images, written per test."""
import os.path as osp

import cv2
import numpy as np
import pytest


def write_images(img_dir: str, names, size=(64, 48)) -> None:
    """Write small random-colour JPEGs (h, w = size)."""
    rng = np.random.default_rng(0)
    for name in names:
        path = osp.join(img_dir, name)
        __import__('os').makedirs(osp.dirname(path), exist_ok=True)
        img = rng.integers(0, 255, size + (3, ), dtype=np.uint8)
        assert cv2.imwrite(path, img)


def humandata_arrays(n: int = 6, convention: str = 'smpl', seed: int = 0) -> dict:
    """Arrays of a HumanData file whose labels are SMPL-24 joints written in ``convention``."""
    from pmnet_plugin.datasets.keypoint_conventions import get_keypoint_names, get_mapping
    rng = np.random.default_rng(seed)
    k = len(get_keypoint_names(convention))
    dst, src = get_mapping('smpl', convention)  # SMPL joints -> their slots in `convention`
    keypoints_smpl = np.concatenate([rng.uniform(5, 40, (n, 24, 2)), np.ones((n, 24, 1))], -1)
    keypoints_3d_smpl = np.concatenate([rng.normal(0, 0.3, (n, 24, 3)), np.ones((n, 24, 1))], -1)
    keypoints = np.zeros((n, k, 3), np.float32)
    keypoints_3d = np.zeros((n, k, 4), np.float32)
    keypoints[:, dst] = keypoints_smpl[:, src]
    keypoints_3d[:, dst] = keypoints_3d_smpl[:, src]
    smpl = dict(global_orient=rng.normal(0, .3, (n, 3)).astype(np.float32),
                body_pose=rng.normal(0, .2, (n, 23, 3)).astype(np.float32),
                betas=rng.normal(0, 1, (n, 10)).astype(np.float32),
                transl=np.zeros((n, 3), np.float32))
    return dict(
        image_path=np.array([f'imgs/{i // 2:03d}.jpg' for i in range(n)]),
        bbox_xywh=np.tile(np.array([[4., 4., 36., 40., 0.9]], np.float32), (n, 1)),
        keypoints2d=keypoints, keypoints2d_mask=np.ones(k, np.float32),
        keypoints2d_convention=np.array(convention),
        keypoints3d=keypoints_3d, keypoints3d_mask=np.ones(k, np.float32),
        keypoints3d_convention=np.array(convention),
        smpl=np.array(smpl, dtype=object),
        meta=np.array(dict(gender=np.array(['neutral'] * n),
                           clip=np.array([f'clip{i % 3}' for i in range(n)]),
                           is_rare=(np.arange(n) % 2).astype(np.float32),
                           frame=np.arange(n)), dtype=object),
        config=np.array('pmnet_test'),
        _keypoints_smpl=keypoints_smpl.astype(np.float32), _keypoints_3d_smpl=keypoints_3d_smpl.astype(np.float32))


def write_humandata(folder: str, n: int = 6, convention: str = 'smpl', images: bool = True,
                    **overrides) -> str:
    """Write ``folder/ann.npz`` (+ images under ``folder/imgs``); returns the npz path."""
    arrays = humandata_arrays(n, convention)
    arrays.update(overrides)
    arrays = {k: v for k, v in arrays.items() if v is not None and not k.startswith('_kp')}
    if images:
        write_images(folder, sorted(set(arrays['image_path'].tolist())))
    path = osp.join(folder, 'ann.npz')
    np.savez(path, **arrays)
    return path


@pytest.fixture
def humandata_dir(tmp_path):
    """A folder with ``ann.npz`` (6 samples, 'smpl' convention) and 3 images."""
    write_humandata(str(tmp_path))
    return str(tmp_path)


@pytest.fixture
def hd_writer():
    """``write_humandata(folder, n=6, convention='smpl', images=True, **overrides) -> npz path``."""
    return write_humandata


@pytest.fixture
def hd_arrays():
    """``humandata_arrays(n=6, convention='smpl', seed=0) -> dict`` (truth: ``_keypoints_smpl``,
    ``_keypoints_3d_smpl``)."""
    return humandata_arrays
