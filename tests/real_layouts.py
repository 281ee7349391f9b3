"""Annotation files written exactly as the public preprocessing writes them (from their documentation and
source), with random labels the tests know.

- :func:`write_h36m` — MMHuman3D's ``H36mConverter`` (``h36m_mosh_train.npz``): HumanData compressed by mask
  (``__keypoints_compressed__``), 17 H36M joints at their ``human_data`` slots (incl. the ``*_extra``
  ones), no convention key (= ``'human_data'``), 3D centred on the H36M pelvis, mosh SMPL parameters.
- :func:`write_mpi_inf_3dhp` — MMHuman3D's ``MpiInf3dhpConverter`` (train): the 28 MPI-INF-3DHP joints,
  3D centred on joint 4 (its pelvis).
- :func:`write_spin_converted` — MMHuman3D's ``SpinConverter`` (``spin_mpi_inf_3dhp_train.npz``): SPIN's
  ``openpose`` + ``part`` (SMPL-49) and ``S`` (SPIN-24) converted to ``human_data`` and compressed; joints
  SPIN leaves empty have confidence 0.
- :func:`write_spin_npz` — SPIN's own preprocessing (``datasets/preprocess/mpi_inf_3dhp.py``): ``imgname``,
  ``center``, ``scale``, ``part`` (24, 3), ``S`` (24, 4), ``openpose`` (25, 3), the 17 3DHP joints at SPIN's
  slots ``[14, 3, 4, 5, 2, 1, 0, 16, 12, 17, 18, 9, 10, 11, 8, 7, 6]``.
- :func:`write_pw3d` — MMHuman3D's ``Pw3dConverter`` (test): SMPL parameters and ``meta.gender`` ('m'/'f'),
  no keypoints.

Each writer returns the truth: ``names2d`` / ``names3d`` (the labelled joints), ``keypoints`` (N, J2, 2),
``keypoints_3d`` (N, J3, 3) as stored, and SMPL parameters where written.
"""
import os.path as osp

import numpy as np

from pmnet_plugin.datasets.keypoint_conventions import (H36M_KEYPOINTS, HUMAN_DATA_KEYPOINTS,
                                                        MPI_INF_3DHP_KEYPOINTS,
                                                        OPENPOSE_25_KEYPOINTS, SPIN_24_KEYPOINTS)

# SPIN's slot of each of the 17 MPI-INF-3DHP / Human3.6M joints (SPIN's preprocessing, ``joints_idx``).
SPIN_SLOTS_17 = [14, 3, 4, 5, 2, 1, 0, 16, 12, 17, 18, 9, 10, 11, 8, 7, 6]
IMAGE_SIZE = (64, 48)  # (h, w) of the test images


def _labels(rng, n, k, centre_joint):
    keypoints = rng.uniform(6, 40, (n, k, 2)).astype(np.float32)
    keypoints_3d = rng.normal(0, 0.3, (n, k, 3)).astype(np.float32)
    keypoints_3d -= keypoints_3d[:, centre_joint:centre_joint + 1]
    return keypoints, keypoints_3d


def _smpl(rng, n):
    return dict(global_orient=np.tile([[np.pi, 0., 0.]], (n, 1)) + rng.normal(0, .2, (n, 3)),
                body_pose=rng.normal(0, .2, (n, 23, 3)), betas=rng.normal(0, .5, (n, 10)))


def _human_data(names, keypoints, mask_names=None):
    """Place joints ``names`` at their human_data slots; returns (compressed array, uint8 mask)."""
    mask = np.zeros(len(HUMAN_DATA_KEYPOINTS), np.uint8)
    full = np.zeros((keypoints.shape[0], len(HUMAN_DATA_KEYPOINTS), keypoints.shape[2]), np.float32)
    idx = [HUMAN_DATA_KEYPOINTS.index(n) for n in names]
    full[:, idx] = keypoints
    mask[[HUMAN_DATA_KEYPOINTS.index(n) for n in (mask_names or names)]] = 1
    return full[:, mask > 0], mask


def _dump(path, **items):
    """``HumanData.dump``: the three attributes, then every item (dicts become 0-d object arrays)."""
    n = len(items['image_path'])
    arrays = dict(__key_strict__=np.array(False), __temporal_len__=np.array(n),
                  __keypoints_compressed__=np.array(True))
    for key, value in items.items():
        arrays[key] = np.array(value, dtype=object) if isinstance(value, dict) else np.asarray(value)
    np.savez_compressed(path, **arrays)


def _images(n):
    return [f'imgs/{i // 2:03d}.jpg' for i in range(n)]


def _bbox(n):
    return np.tile(np.array([[4., 4., 36., 40., 1.]], np.float32), (n, 1))


def write_h36m(folder: str, n: int = 4, seed: int = 0, filename: str = 'h36m_mosh_train.npz') -> dict:
    """``h36m_mosh_train.npz`` in MMHuman3D's layout (see module docstring)."""
    rng = np.random.default_rng(seed)
    keypoints, keypoints_3d = _labels(rng, n, 17, centre_joint=0)
    one = np.ones((n, 17, 1), np.float32)
    k2, mask = _human_data(H36M_KEYPOINTS, np.concatenate([keypoints, one], -1))
    k3, _ = _human_data(H36M_KEYPOINTS, np.concatenate([keypoints_3d, one], -1))
    smpl = _smpl(rng, n)
    path = osp.join(folder, filename)
    _dump(path, image_path=_images(n), bbox_xywh=_bbox(n), keypoints2d_mask=mask, keypoints3d_mask=mask,
          keypoints2d=k2, keypoints3d=k3, cam_param={'S1': {'H': 1000, 'W': 1000}}, config='h36m',
          smpl=smpl)
    return dict(path=path, names2d=H36M_KEYPOINTS, names3d=H36M_KEYPOINTS, keypoints=keypoints,
                keypoints_3d=keypoints_3d, smpl=smpl)


def write_mpi_inf_3dhp(folder: str, n: int = 4, seed: int = 1) -> dict:
    """``mpi_inf_3dhp_train.npz`` of MMHuman3D's converter: all 28 joints, 3D centred on joint 4."""
    rng = np.random.default_rng(seed)
    keypoints, keypoints_3d = _labels(rng, n, 28, centre_joint=4)
    one = np.ones((n, 28, 1), np.float32)
    k2, mask = _human_data(MPI_INF_3DHP_KEYPOINTS, np.concatenate([keypoints, one], -1))
    k3, _ = _human_data(MPI_INF_3DHP_KEYPOINTS, np.concatenate([keypoints_3d, one], -1))
    path = osp.join(folder, 'mpi_inf_3dhp_train.npz')
    _dump(path, image_path=_images(n), bbox_xywh=_bbox(n), keypoints2d_mask=mask, keypoints3d_mask=mask,
          keypoints2d=k2, keypoints3d=k3, config='mpi_inf_3dhp')
    return dict(path=path, names2d=MPI_INF_3DHP_KEYPOINTS, names3d=MPI_INF_3DHP_KEYPOINTS, keypoints=keypoints,
                keypoints_3d=keypoints_3d)


def _spin_arrays(rng, n):
    """SPIN's ``part`` (24, 3), ``S`` (24, 4), ``openpose`` (25, 3) with the 17 joints at their slots."""
    keypoints, keypoints_3d = _labels(rng, n, 17, centre_joint=0)
    part = np.zeros((n, 24, 3), np.float32)
    S = np.zeros((n, 24, 4), np.float32)
    part[:, SPIN_SLOTS_17] = np.concatenate([keypoints, np.ones((n, 17, 1))], -1)
    S[:, SPIN_SLOTS_17] = np.concatenate([keypoints_3d, np.ones((n, 17, 1))], -1)
    openpose = np.concatenate([rng.uniform(6, 40, (n, 25, 2)), rng.uniform(.2, .9, (n, 25, 1))], -1)
    names = [SPIN_24_KEYPOINTS[s] for s in SPIN_SLOTS_17]
    return part, S, openpose.astype(np.float32), names, keypoints, keypoints_3d


def write_spin_converted(folder: str, n: int = 4, seed: int = 2, mode: str = 'mpi_inf_3dhp',
                         filename: str = 'spin_mpi_inf_3dhp_train.npz', with_3d: bool = True) -> dict:
    """A ``SpinConverter`` output for ``mode`` (see module docstring); ``with_3d=False``: a 2D set."""
    rng = np.random.default_rng(seed)
    part, S, openpose, names, keypoints, keypoints_3d = _spin_arrays(rng, n)
    k2, mask2 = _human_data(OPENPOSE_25_KEYPOINTS + SPIN_24_KEYPOINTS, np.concatenate([openpose, part], 1))
    items = dict(image_path=_images(n), bbox_xywh=_bbox(n), keypoints2d_mask=mask2, keypoints2d=k2,
                 config=mode)
    if with_3d:
        items['keypoints3d'], items['keypoints3d_mask'] = _human_data(SPIN_24_KEYPOINTS, S)
    path = osp.join(folder, filename)
    _dump(path, **items)
    return dict(path=path, names2d=names, names3d=names if with_3d else [], keypoints=keypoints,
                keypoints_3d=keypoints_3d, openpose=openpose)


def write_spin_npz(folder: str, n: int = 4, seed: int = 3) -> dict:
    """SPIN's ``mpi_inf_3dhp_train.npz`` (``imgname``, ``center``, ``scale``, ``part``, ``S``, ``openpose``)."""
    rng = np.random.default_rng(seed)
    part, S, openpose, names, keypoints, keypoints_3d = _spin_arrays(rng, n)
    path = osp.join(folder, 'mpi_inf_3dhp_train_spin.npz')
    np.savez(path, imgname=np.array(_images(n)), center=np.tile([[20., 22.]], (n, 1)),
             scale=np.full(n, 36. / 200.), part=part, S=S, openpose=openpose)
    return dict(path=path, names2d=names, names3d=names, keypoints=keypoints, keypoints_3d=keypoints_3d,
                openpose=openpose)


def write_pw3d(folder: str, genders=('m', 'f', 'm', 'f'), seed: int = 4,
               filename: str = 'pw3d_test.npz') -> dict:
    """``pw3d_test.npz`` of MMHuman3D's ``Pw3dConverter``: SMPL parameters, ``meta.gender``, no keypoints."""
    rng = np.random.default_rng(seed)
    n = len(genders)
    smpl = _smpl(rng, n)
    path = osp.join(folder, filename)
    _dump(path, image_path=_images(n), bbox_xywh=_bbox(n), smpl=smpl,
          meta=dict(gender=np.array(genders)), cam_param=[{'H': 1920, 'W': 1080}] * n, config='3dpw')
    return dict(path=path, smpl=smpl, genders=list(genders))


def write_images(folder: str, n: int) -> None:
    """The JPEGs the writers' ``image_path`` names (random colours, ``IMAGE_SIZE``)."""
    import os

    import cv2
    rng = np.random.default_rng(0)
    for name in sorted(set(_images(n))):
        path = osp.join(folder, name)
        os.makedirs(osp.dirname(path), exist_ok=True)
        assert cv2.imwrite(path, rng.integers(0, 255, IMAGE_SIZE + (3, ), dtype=np.uint8))
