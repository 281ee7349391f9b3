"""Prototype files and pose sources on disk.

A prototype file (``data/prototypes/prototypes_k32.npz``, written by ``tools/build_prototypes.py``) holds:

- ``pose_rot6d`` (K, 24, 6) float32: prototype pose as 6D rotations; joint 0 (global orient) is the identity
  when poses are canonicalised to their articulation (``tilt_weight`` 0), or the heading-free camera-frame
  orientation (``tilt_weight`` > 0), see :func:`pmnet_plugin.prototypes.geometry.canonical_rotmats`.
- ``betas`` (K, 10) float32: mean betas of the members (zeros when the source has none).
- ``cam`` (K, 3) float32: initial weak-perspective camera (the mean-params camera when given).
- ``counts`` (K,) int64: members per cluster; ``weight_mass`` (K,) float32: their summed sample weights.
- metadata: ``K``, ``num_joints``, ``num_vertices``, ``method`` ('kmeans' | 'balanced_kmeans'),
  ``seed``, ``num_samples``, ``source``, ``tilt_weight`` (the weight of joint 0 in the clustering distance;
  files without it are 0), and ``rare_fraction`` (K,) when the source had ``is_rare``.
"""
import os
import os.path as osp
from typing import Dict

import numpy as np

from pmnet_plugin.utils.paths import relative_path_hint
from pmnet_plugin.utils.safe_pickle import DataFileError, load_npz

__all__ = ['save_prototypes', 'load_prototypes', 'load_pose_source', 'check_prototypes_fit',
           'PrototypeFileMismatchError']

PROTOTYPE_FIX = 'Rebuild it with tools/build_prototypes.py.'


class PrototypeFileMismatchError(ValueError):
    """A prototype file that does not fit the head (K, joints or tilt_weight differ); names both."""


def check_prototypes_fit(protos: Dict[str, np.ndarray], path: str, num_prototypes: int, num_joints: int,
                         tilt_weight: float) -> None:
    """Raises :class:`PrototypeFileMismatchError` unless the file's K, joints and tilt_weight are the head's.

    Args:
        protos (dict): :func:`load_prototypes` of ``path``.
        path (str): The file, for the message.
        num_prototypes (int): The head's K.
        num_joints (int): The head's joints per prototype.
        tilt_weight (float): The head's ``tilt_weight``.
    """
    k_file, j_file = protos['pose_rot6d'].shape[:2]
    if k_file != num_prototypes or j_file != num_joints:
        raise PrototypeFileMismatchError(
            f'PrototypeMemoryHead: prototype file {path} has K={k_file} prototypes of {j_file} joints, '
            f'but the config asks num_prototypes={num_prototypes} with {num_joints} joints; rebuild it '
            f'with tools/build_prototypes.py --k {num_prototypes} or fix model.head.num_prototypes.')
    file_tilt = float(protos['tilt_weight'])
    if abs(file_tilt - tilt_weight) > 1e-6:
        raise PrototypeFileMismatchError(
            f'PrototypeMemoryHead: prototype file {path} was clustered with tilt_weight={file_tilt:g}, '
            f'the head has tilt_weight={tilt_weight:g}; set model.head.tilt_weight={file_tilt:g} '
            f'or rebuild the file with tools/build_prototypes.py --tilt-weight {tilt_weight:g}.')


def save_prototypes(path: str, protos: Dict[str, np.ndarray]) -> None:
    """Write a prototype file (creates the folder)."""
    if osp.dirname(path):
        os.makedirs(osp.dirname(path), exist_ok=True)
    np.savez(path, **protos)


def load_prototypes(path: str) -> Dict[str, np.ndarray]:
    """Read and validate a prototype file.

    Args:
        path (str): ``.npz`` written by :func:`save_prototypes`.

    Returns:
        dict: Arrays; ``pose_rot6d`` (K, J, 6), ``betas`` (K, 10), ``cam`` (K, 3), ``tilt_weight`` (0 when the
        file has none), ``counts`` (K,), ...
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'prototype file not found: {path}. {relative_path_hint(path)}Build it with '
                                'tools/build_prototypes.py.')
    d = load_npz(path, 'a prototype file', PROTOTYPE_FIX)
    objects = [k for k, v in d.items() if v.dtype == object]
    if objects:
        raise DataFileError(f'{path}: entries {objects} hold Python objects; a prototype file holds '
                            f'numeric arrays only. {PROTOTYPE_FIX}')
    for key in ('pose_rot6d', 'betas', 'cam'):
        if key not in d:
            raise KeyError(f'prototype file {path} lacks "{key}". {PROTOTYPE_FIX}')
    d.setdefault('tilt_weight', np.float32(0.0))  # files written before the tilt option are articulation-only
    if d['pose_rot6d'].ndim != 3 or d['pose_rot6d'].shape[-1] != 6:
        raise ValueError(f'prototype file {path}: pose_rot6d must be (K, J, 6), got '
                         f'{d["pose_rot6d"].shape}')
    return d


def load_pose_source(path: str) -> Dict[str, np.ndarray]:
    """Load poses from a pose library (``poses`` (N, 72)) or a HumanData npz (``smpl`` dict).

    Args:
        path (str): ``.npz`` file.

    Returns:
        dict: ``poses`` (N, 72) and, when present, ``betas`` (N, 10), ``is_rare`` (N,).
    """
    d = load_npz(path, 'a pose library or HumanData .npz',
                 'Rebuild it (python tools/prepare_mocap.py) or get it again from its source.')
    out = {}
    if 'poses' in d:
        out['poses'] = d['poses'].reshape(len(d['poses']), -1)
        if 'betas' in d:
            out['betas'] = d['betas']
    elif 'smpl' in d:
        smpl = d['smpl'].item() if d['smpl'].dtype == object else d['smpl']
        body = np.asarray(smpl['body_pose']).reshape(len(smpl['body_pose']), -1)
        out['poses'] = np.concatenate([np.asarray(smpl['global_orient']).reshape(-1, 3), body], 1)
        if 'betas' in smpl:
            out['betas'] = np.asarray(smpl['betas'])
        if 'has_smpl' in d:  # keep only frames that really carry SMPL
            keep = np.asarray(d['has_smpl']).astype(bool).reshape(-1)
            out = {k: v[keep] for k, v in out.items()}
            if 'is_rare' in d:
                d['is_rare'] = np.asarray(d['is_rare'])[keep]
    else:
        raise KeyError(f'{path}: expected key "poses" (pose library) or "smpl" (HumanData)')
    if 'is_rare' in d:
        out['is_rare'] = np.asarray(d['is_rare']).reshape(-1)
    elif 'meta' in d and d['meta'].dtype == object and 'is_rare' in d['meta'].item():
        out['is_rare'] = np.asarray(d['meta'].item()['is_rare']).reshape(-1)
    return out
