"""Readers that turn HumanData and SPIN ``.npz`` files into columns of per-sample arrays.

Each joint stays under the file's own name and definition (N samples, J the joints that some sample
labels); no joint is mapped onto another. The columns and the keys read from each format are listed in
``docs/datasets.md`` ("Annotation files").
"""
import os.path as osp
from typing import Dict, Optional

import numpy as np
from mmpose.structures.bbox import bbox_xywh2xyxy

from pmnet_plugin.utils.paths import relative_path_hint
from pmnet_plugin.utils.safe_pickle import load_npz
from .keypoint_conventions import OPENPOSE_25_KEYPOINTS, SPIN_24_KEYPOINTS, get_keypoint_names

Columns = Dict[str, np.ndarray]

# how to get a good copy of an annotation file (used in file-error messages)
ANNOTATION_FIX = ('Regenerate it (offline data: python tools/make_synthetic_dataset.py) or get it again '
                  "from its source (MMHuman3D's preprocessed HumanData, SPIN's dataset_extras).")


class AnnotationError(ValueError):
    """A malformed annotation file (names the file and the key)."""


def _fail(path: str, key: str, msg: str) -> None:
    raise AnnotationError(f'{path}: key {key!r}: {msg}')


def _get(data, path: str, key: str, required: bool = True):
    if key in data:
        value = data[key]
        if isinstance(value, np.ndarray) and value.dtype == object and value.ndim == 0:
            value = value.item()
        return value
    if required:
        _fail(path, key, f'missing (keys present: {sorted(data.keys())})')
    return None


def _check_rows(arr: np.ndarray, n: int, path: str, key: str, tail: tuple = None) -> np.ndarray:
    arr = np.asarray(arr)
    if arr.shape[0] != n:
        _fail(path, key, f'has {arr.shape[0]} rows but the file has {n} samples')
    if tail is not None and tuple(arr.shape[1:]) not in tail:
        _fail(path, key, f'has shape {arr.shape}, expected (N, ...) with ... in {tail}')
    if arr.dtype.kind == 'f' and not np.isfinite(arr).all():
        bad = np.unique(np.nonzero(~np.isfinite(arr.reshape(n, -1)))[0])
        _fail(path, key, f'contains NaN/inf in {bad.size} samples (first rows {bad[:5].tolist()})')
    return arr


# per-sample keys whose row count is compared with the image list's length
SAMPLE_KEYS = ('bbox_xywh', 'keypoints2d', 'keypoints3d', 'center', 'scale', 'part', 'openpose', 'S',
               'pose', 'shape')


def _check_sample_count(data: dict, path: str, name_key: str, n: int) -> int:
    """Returns the sample count ``n`` (the length of the image list ``name_key``) after checking it.

    When most per-sample keys agree on a count that differs from the image list's, the image list is
    the odd one out and the error names it (instead of the first key that disagrees with it).
    """
    counts = {}
    for key in SAMPLE_KEYS:
        value = data.get(key)
        if isinstance(value, np.ndarray) and value.dtype != object and value.ndim >= 1:
            counts[key] = value.shape[0]
    others = sorted(set(counts.values()))
    if len(others) == 1 and others[0] != n:
        _fail(path, name_key, f'has {n} entries but the per-sample keys '
              f'{", ".join(f"{k} ({c} rows)" for k, c in counts.items())} have {others[0]}: '
              f'{name_key} must list one image per sample; rebuild the file so that {name_key} and '
              'the label keys have the same length')
    return n


def _labelled_only(keypoints: np.ndarray, names: np.ndarray, dim: int):
    """Split (N, J, dim+1) into coordinates and visibility; drop joints no sample labels."""
    vis = np.clip(keypoints[..., dim], 0., 1.).astype(np.float32)
    keep = (vis > 0).any(0)
    return (np.ascontiguousarray(keypoints[:, keep, :dim], dtype=np.float32), np.ascontiguousarray(vis[:, keep]),
            names[keep])


def _empty_keypoints(n: int, dim: int):
    return np.zeros((n, 0, dim), np.float32), np.zeros((n, 0), np.float32), np.zeros(0, str)


def _read_keypoints(data, path: str, n: int, dim: int, source_joint_set: Optional[str],
                    smpl24_is_smpl: bool = False):
    """Read ``keypoints{dim}d`` (+ mask, convention) as the file's own labelled joints; ``source_joint_set``
    replaces the file's ``keypoints{dim}d_convention``.

    Returns:
        tuple: coordinates (N, J, dim), visibility (N, J) in [0, 1] and names (J,) of the J joints
        that the mask keeps and at least one sample labels.
    """
    key = f'keypoints{dim}d'
    keypoints = _get(data, path, key, required=False)
    if keypoints is None:
        return _empty_keypoints(n, dim)
    keypoints = _check_rows(keypoints, n, path, key).astype(np.float32, copy=False)
    if keypoints.ndim != 3 or keypoints.shape[2] not in (dim, dim + 1):
        _fail(path, key, f'has shape {keypoints.shape}, expected (N, J, {dim}) or (N, J, {dim + 1})')
    if keypoints.shape[2] == dim:
        keypoints = np.concatenate([keypoints, np.ones_like(keypoints[..., :1])], axis=-1)
    conv = str(source_joint_set or _get(data, path, f'{key}_convention', required=False) or 'human_data')
    if smpl24_is_smpl and conv == 'smpl_24':
        conv = 'smpl'
    try:
        names = np.asarray(get_keypoint_names(conv))
    except KeyError as err:
        _fail(path, f'{key}_convention', str(err.args[0]))
    mask = _get(data, path, f'{key}_mask', required=False)
    if mask is not None:
        mask = np.asarray(mask, np.float32).reshape(-1) > 0
        if mask.shape[0] != names.shape[0]:
            _fail(path, f'{key}_mask', f'has {mask.shape[0]} entries but convention {conv!r} has '
                  f'{names.shape[0]} joints')
        if keypoints.shape[1] == names.shape[0]:
            keypoints = keypoints[:, mask]
        elif keypoints.shape[1] != mask.sum():  # compressed (MMHuman3D compress_keypoints_by_mask) or not
            _fail(path, key, f'has {keypoints.shape[1]} joints; convention {conv!r} has {names.shape[0]} '
                  f'and the mask keeps {mask.sum()}')
        names = names[mask]
    elif keypoints.shape[1] != names.shape[0]:
        _fail(path, key, f'has {keypoints.shape[1]} joints but convention {conv!r} has {names.shape[0]}')
    return _labelled_only(keypoints, names, dim)


def _smpl_columns(path: str, n: int, pose: Optional[np.ndarray], betas: Optional[np.ndarray],
                  has_smpl: Optional[np.ndarray], pose_key: str, betas_key: str) -> Columns:
    if pose is None:
        return dict(smpl_pose=np.zeros((n, 72), np.float32),
                    smpl_betas=np.zeros((n, 10), np.float32),
                    has_smpl=np.zeros(n, np.float32))
    pose = _check_rows(pose, n, path, pose_key).reshape(n, -1).astype(np.float32)
    if pose.shape[1] != 72:
        _fail(path, pose_key, f'expected 72 axis-angle values per sample, got {pose.shape[1]}')
    if betas is None:
        betas = np.zeros((n, 10), np.float32)
    betas = _check_rows(betas, n, path, betas_key).reshape(n, -1).astype(np.float32)
    betas10 = np.zeros((n, 10), np.float32)
    betas10[:, :min(10, betas.shape[1])] = betas[:, :10]
    if has_smpl is None:
        has_smpl = np.ones(n, np.float32)
    has_smpl = _check_rows(has_smpl, n, path, 'has_smpl').reshape(n).astype(np.float32)
    return dict(smpl_pose=pose, smpl_betas=betas10, has_smpl=has_smpl)


def _source_key(data, key: str) -> np.ndarray:
    """The file key a column comes from ('' when the file lacks it), as a 0-d str array."""
    return np.array(key if key in data else '')


def read_humandata(path: str, source_joint_set: Optional[str] = None) -> Columns:
    """Read an MMHuman3D HumanData ``.npz`` into columns (``docs/datasets.md``).

    Args:
        path (str): The ``.npz`` file.
        source_joint_set (str, optional): The joint set (keypoint convention) the file's 2D and 3D
            keypoints are stored in, overriding its ``keypoints{2,3}d_convention``.

    Returns:
        dict: Columns of N samples.
    """
    data = load_npz(path, 'a HumanData .npz', ANNOTATION_FIX)
    img_path = np.asarray(_get(data, path, 'image_path')).astype(str).reshape(-1)
    n = _check_sample_count(data, path, 'image_path', img_path.shape[0])
    bbox_xywh = _check_rows(_get(data, path, 'bbox_xywh'), n, path, 'bbox_xywh', ((4, ), (5, )))
    bbox_xywh = bbox_xywh.astype(np.float32)
    bbox = bbox_xywh2xyxy(bbox_xywh[:, :4])
    score = bbox_xywh[:, 4] if bbox_xywh.shape[1] == 5 else np.ones(n, np.float32)
    cols = dict(img_path=img_path, bbox=bbox, bbox_score=score.astype(np.float32))
    # Files of our writer (config 'pmnet_synthetic') that label SMPL-ordered joints 'smpl_24' (which
    # in MMHuman3D means SPIN's 24) are read as 'smpl'; the writer now stores 'smpl'.
    ours = str(_get(data, path, 'config', required=False) or '') == 'pmnet_synthetic'
    for dim, out in ((2, 'keypoints'), (3, 'keypoints_3d')):
        cols[out], cols[f'{out}_visible'], cols[f'{out}_names'] = _read_keypoints(
            data, path, n, dim, source_joint_set, ours)
        cols[f'{out}_key'] = _source_key(data, f'keypoints{dim}d')

    meta = _get(data, path, 'meta', required=False) or {}
    if not isinstance(meta, dict):
        _fail(path, 'meta', f'expected a dict, got {type(meta).__name__}')
    smpl = _get(data, path, 'smpl', required=False)
    has_smpl = _get(data, path, 'has_smpl', required=False)
    has_smpl = meta.get('has_smpl') if has_smpl is None else has_smpl
    pose = betas = None
    if smpl is not None:
        if not isinstance(smpl, dict):
            _fail(path, 'smpl', f'expected a dict, got {type(smpl).__name__}')
        for key in ('global_orient', 'body_pose'):
            if key not in smpl:
                _fail(path, f'smpl.{key}', f'missing (smpl keys: {sorted(smpl)})')
        go = _check_rows(smpl['global_orient'], n, path, 'smpl.global_orient').reshape(n, -1)
        bp = _check_rows(smpl['body_pose'], n, path, 'smpl.body_pose').reshape(n, -1)
        pose = np.concatenate([go, bp], axis=1)
        betas = smpl.get('betas')
    cols.update(_smpl_columns(path, n, pose, betas, has_smpl, 'smpl.body_pose', 'smpl.betas'))
    cols['smpl_key'] = _source_key(data, 'smpl')

    for key in ('clip', 'gender'):
        value = meta.get(key)
        if value is not None:
            value = np.asarray(value).astype(str).reshape(-1)
            cols[key] = np.repeat(value, n) if value.size == 1 else _check_rows(
                value, n, path, f'meta.{key}')
    if meta.get('is_rare') is not None:
        cols['is_rare'] = _check_rows(meta['is_rare'], n, path, 'meta.is_rare').astype(np.float32)
    if meta.get('frame') is not None:
        cols['frame'] = _check_rows(meta['frame'], n, path, 'meta.frame').astype(np.int64)
    return cols


def read_spin_npz(path: str) -> Columns:
    """Read a SPIN-style ``.npz`` (``imgname``, ``center``, ``scale``, ``part``, ``openpose``, ``S``...).

    Args:
        path (str): The ``.npz`` file.

    Returns:
        dict: Columns of N samples; 2D joints are ``openpose`` then ``part`` (SPIN's 49 order), 3D
        joints are ``S`` (SPIN's 24 order), each reduced to the joints some sample labels.
    """
    data = load_npz(path, 'a SPIN .npz', ANNOTATION_FIX)
    img_path = np.asarray(_get(data, path, 'imgname')).astype(str).reshape(-1)
    n = _check_sample_count(data, path, 'imgname', img_path.shape[0])
    center = _check_rows(_get(data, path, 'center'), n, path, 'center', ((2, ), ))
    scale = _check_rows(_get(data, path, 'scale'), n, path, 'scale').reshape(n)
    half = (scale * 100.)[:, None]  # SPIN: scale = box side / 200
    bbox = np.concatenate([center - half, center + half], axis=1).astype(np.float32)
    cols = dict(img_path=img_path, bbox=bbox, bbox_score=np.ones(n, np.float32))
    parts = []
    for key, names in (('openpose', OPENPOSE_25_KEYPOINTS), ('part', SPIN_24_KEYPOINTS)):
        arr = _get(data, path, key, required=False)
        if arr is not None:
            parts.append((_check_rows(arr, n, path, key, ((len(names), 3), )), names))
    if parts:
        keypoints = np.concatenate([p for p, _ in parts], axis=1).astype(np.float32)
        names = np.asarray(sum((list(nm) for _, nm in parts), []))
        cols['keypoints'], cols['keypoints_visible'], cols['keypoints_names'] = _labelled_only(
            keypoints, names, 2)
    else:
        cols['keypoints'], cols['keypoints_visible'], cols['keypoints_names'] = _empty_keypoints(n, 2)
    cols['keypoints_key'] = np.array('+'.join(k for k in ('openpose', 'part') if k in data))
    S = _get(data, path, 'S', required=False)
    if S is not None:
        S = _check_rows(S, n, path, 'S', ((24, 4), )).astype(np.float32)
        cols['keypoints_3d'], cols['keypoints_3d_visible'], cols['keypoints_3d_names'] = \
            _labelled_only(S, np.asarray(SPIN_24_KEYPOINTS), 3)
    else:
        cols['keypoints_3d'], cols['keypoints_3d_visible'], cols['keypoints_3d_names'] = \
            _empty_keypoints(n, 3)
    cols['keypoints_3d_key'] = _source_key(data, 'S')
    cols.update(_smpl_columns(path, n, _get(data, path, 'pose', False),
                              _get(data, path, 'shape', False), _get(data, path, 'has_smpl', False),
                              'pose', 'shape'))
    cols['smpl_key'] = _source_key(data, 'pose')
    if 'gender' in data:
        cols['gender'] = _check_rows(np.asarray(data['gender']).astype(str).reshape(-1), n, path,
                                     'gender')
    return cols


def read_annotations(path: str, data_format: str = 'auto',
                     source_joint_set: Optional[str] = None) -> Columns:
    """Read HumanData or SPIN ``.npz``; ``data_format='auto'`` picks by the keys present.

    Args:
        path (str): The annotation file.
        data_format (str): ``'auto'``, ``'humandata'`` or ``'spin'``.
        source_joint_set (str, optional): The joint set of a HumanData file's keypoints (overrides the
            file's conventions; :func:`read_humandata`).

    Returns:
        dict: Columns of N samples (``docs/datasets.md``).
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'Annotation file {path!r} does not exist. {relative_path_hint(path)}'
                                f'{ANNOTATION_FIX}')
    if data_format == 'auto':
        keys = set(load_npz(path, 'a HumanData or SPIN .npz', ANNOTATION_FIX))
        if 'image_path' in keys:
            data_format = 'humandata'
        elif 'imgname' in keys:
            data_format = 'spin'
        else:
            raise AnnotationError(f'{path}: neither HumanData (key "image_path") nor SPIN '
                                  f'(key "imgname") format; keys present: {sorted(keys)}')
    if data_format == 'humandata':
        return read_humandata(path, source_joint_set)
    if data_format == 'spin':
        return read_spin_npz(path)
    raise ValueError(f'Unknown data_format {data_format!r}; use auto, humandata or spin')
