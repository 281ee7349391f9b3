"""Put a file's own joints into a joint set, pick each sample's 3D root, and report what supervises.

A joint supervises when its name is in the dataset's joint set and the mesh has a source for it
(:func:`~pmnet_plugin.models.body_models.joint_sets.joint_source`); ``docs/datasets.md`` ("Joint sets").
"""
from typing import Dict, List, Optional

import numpy as np

from pmnet_plugin.models.body_models.joint_sets import regressable_mask
from .humandata import AnnotationError
from .keypoint_conventions import ROOT_CANDIDATES, flip_indices, get_keypoint_names, root_indices


def joint_set_metainfo(joint_set: str) -> dict:
    """MMPose ``dataset_info`` of a joint set: names, left/right partners, uniform weights.

    Args:
        joint_set (str): Keypoint convention name.

    Returns:
        dict: ``dataset_name``, ``keypoint_info``, ``skeleton_info`` (empty), ``joint_weights`` and
        ``sigmas`` (0.05; no OKS metric uses them), as ``mmpose.datasets.parse_pose_metainfo`` reads.
    """
    names = get_keypoint_names(joint_set)
    flip = flip_indices(names)
    info = {i: dict(name=n, id=i, color=[255, 128, 0], type='',
                    swap=names[flip[i]] if flip[i] != i else '') for i, n in enumerate(names)}
    return dict(dataset_name=joint_set, keypoint_info=info, skeleton_info={},
                joint_weights=[1.0] * len(names), sigmas=[0.05] * len(names))


def _set_indices(names: np.ndarray, lookup: Dict[str, int], source_ok: Dict[str, bool]):
    idx = np.array([lookup.get(str(n), -1) for n in names], np.int64)
    ok = np.array([i >= 0 and source_ok[str(n)] for i, n in zip(idx, names)], bool)
    return idx, ok


def to_joint_set(cols: dict, joint_set: str, openpose_weight: float = 0.,
                 rename: Optional[Dict[str, str]] = None) -> dict:
    """Reduce a file's columns to the joints of ``joint_set`` that can supervise.

    Args:
        cols (dict): Reader output (:mod:`.humandata`).
        joint_set (str): Keypoint convention of the labels and of the regressed joints.
        openpose_weight (float): Factor on the visibility of ``*_openpose`` joints (detections).
        rename (dict, optional): ``file name -> name`` applied to the file's joint names first.

    Returns:
        dict: ``keypoints`` (N, M2, 2), ``keypoints_visible`` (N, M2), ``keypoints_names`` (M2,),
        ``index_2d`` (M2,) into the set, ``keypoints_3d`` (N, M3, 3) root-relative,
        ``keypoints_3d_visible`` (N, M3), ``keypoints_3d_names`` (M3,), ``index_3d`` (M3,), ``root``
        (N, 2) set indices of the root joints (-1: none), ``keypoints_in_order`` and
        ``keypoints_3d_in_order`` (0-d bool) and ``stats`` (for :func:`format_report`).
    """
    names = get_keypoint_names(joint_set)
    lookup = {n: i for i, n in enumerate(names)}
    source_ok = dict(zip(names, regressable_mask(names)))
    rename = rename or {}
    out: dict = {}
    stats: dict = {}
    for dim, key in ((2, 'keypoints'), (3, 'keypoints_3d')):
        file_names = np.array([rename.get(str(n), str(n)) for n in cols[f'{key}_names']], dtype=str)
        keypoints, vis = cols[key], cols[f'{key}_visible'].copy()
        labelled = vis > 0
        if dim == 2 and file_names.size:
            vis[:, np.char.endswith(file_names, '_openpose')] *= openpose_weight
        idx, ok = _set_indices(file_names, lookup, source_ok)
        keypoints, vis, sub_names, idx = keypoints[:, ok], vis[:, ok], file_names[ok], idx[ok]
        if dim == 3:
            root = root_indices(list(sub_names), vis)
            has_root = root[:, 0] >= 0
            out['root'] = np.full(root.shape, -1, np.int64)
            if idx.size:
                safe = np.where(has_root[:, None], root, 0)
                centre = 0.5 * (np.take_along_axis(keypoints, safe[:, :1, None], 1)
                                + np.take_along_axis(keypoints, safe[:, 1:, None], 1))
                keypoints = np.where(has_root[:, None, None], keypoints - centre, 0.).astype(np.float32)
                out['root'] = np.where(has_root[:, None], idx[safe], -1)
            vis = vis * has_root[:, None]
            stats['root_missing'] = int((labelled.any(1) & ~has_root).sum())
        out[key], out[f'{key}_visible'], out[f'index_{dim}d'] = keypoints, vis.astype(np.float32), idx
        out[f'{key}_names'] = sub_names
        out[f'{key}_in_order'] = np.array(bool((idx == np.arange(idx.size)).all()))
        stats[f'labelled_{dim}d'] = float(labelled.sum(1).mean()) if labelled.size else 0.
        stats[f'supervised_{dim}d'] = float((vis > 0).sum(1).mean()) if vis.size else 0.
        stats[f'unsupervised_{dim}d'] = _unsupervised(file_names, labelled, vis, sub_names, lookup,
                                                      source_ok, openpose_weight if dim == 2 else 1.)
    stats['smpl'] = float(cols['has_smpl'].mean()) if len(cols['has_smpl']) else 0.
    out['stats'] = stats
    return out


def _unsupervised(file_names: np.ndarray, labelled: np.ndarray, vis: np.ndarray,
                  kept: np.ndarray, lookup: dict, source_ok: dict,
                  op_weight: float) -> Dict[str, List[str]]:
    """The labelled joints of the file that do not supervise, grouped by the reason."""
    reasons: Dict[str, List[str]] = {}
    kept = set(kept.tolist())
    for j, name in enumerate(file_names):
        if not labelled[:, j].any():
            continue
        if name not in lookup:
            why = 'not in the joint set'
        elif not source_ok[name]:
            why = 'no regression source on the mesh'
        elif name in kept and name.endswith('_openpose') and op_weight == 0:
            why = 'OpenPose detections, openpose_weight=0'
        else:
            continue
        reasons.setdefault(why, []).append(str(name))
    return reasons


def _describe(reasons: Dict[str, List[str]]) -> str:
    return '; '.join(f'{why}: {", ".join(names)}' for why, names in reasons.items())


def check_claims(path: str, cols: dict, stats: dict, joint_set: str) -> None:
    """Raise when a label the file has (its key is present) supervises nothing.

    Args:
        path (str): The annotation file (named in the error).
        cols (dict): Reader output (``*_key`` say which file keys the labels came from).
        stats (dict): ``stats`` of :func:`to_joint_set`.
        joint_set (str): The joint set (named in the error).

    Raises:
        AnnotationError: Naming the file, the key and why nothing reaches the loss.
    """
    for dim, key in ((2, 'keypoints'), (3, 'keypoints_3d')):
        file_key = str(cols[f'{key}_key'])
        if not file_key or stats[f'supervised_{dim}d'] > 0:
            continue
        why = _describe(stats[f'unsupervised_{dim}d']) or 'no sample labels any joint'
        if dim == 3 and stats['root_missing']:
            why = (f'no sample has a root joint ({" | ".join(_root_names())}) among the joints of set '
                   f'{joint_set!r} that it labels; {why}')
        raise AnnotationError(
            f'{path}: key {file_key!r}: none of its {dim}D joints reaches the loss with joint set '
            f'{joint_set!r} ({why}). Use a joint set that holds these joints (e.g. '
            f"joint_set='human_data'), fix the file's keypoints{dim}d_convention, or remove the key.")
    if str(cols['smpl_key']) and stats['smpl'] == 0:
        raise AnnotationError(f'{path}: key {str(cols["smpl_key"])!r}: SMPL parameters are present but '
                              'has_smpl is 0 for every sample, so none reaches the loss; set has_smpl '
                              'where the parameters are labels or remove the key.')


def _root_names() -> List[str]:
    return ['+'.join(c) for c in ROOT_CANDIDATES]


def format_report(tag: str, path: str, n: int, joint_set: str, stats: dict) -> str:
    """One log line per dataset: supervised / labelled joints per sample, SMPL share, what is left out."""
    lines = [f'{tag}: {path} ({n} samples, joint set {joint_set!r}) per sample: '
             f'2D {stats["supervised_2d"]:.1f} of {stats["labelled_2d"]:.1f} labelled joints supervised, '
             f'3D {stats["supervised_3d"]:.1f} of {stats["labelled_3d"]:.1f}, '
             f'SMPL parameters {stats["smpl"]:.2f}']
    for dim in (2, 3):
        if stats[f'unsupervised_{dim}d']:
            lines.append(f'  {dim}D joints without loss ({_describe(stats[f"unsupervised_{dim}d"])})')
    if stats['root_missing']:
        lines.append(f'  {stats["root_missing"]} samples with 3D joints but no root joint '
                     f'({" | ".join(_root_names())}): their 3D joints get no loss')
    return '\n'.join(lines)


_SCATTER = (('keypoints', 'keypoints_visible', 'index_2d', 'keypoints_in_order', 2),
            ('keypoints_3d', 'keypoints_3d_visible', 'index_3d', 'keypoints_3d_in_order', 3))


def scatter_row(labels: dict, row: int, num_joints: int) -> Dict[str, np.ndarray]:
    """The labels of one sample in joint-set order (``row = -1``: an unlabelled detection).

    Returns:
        dict: ``keypoints`` (1, J, 2), ``keypoints_visible`` (1, J), ``keypoints_3d`` (1, J, 3),
        ``keypoints_3d_visible`` (1, J) and ``keypoints_3d_root`` (1, J) weights of the root joints.
    """
    out = {}
    for key, vis_key, idx_key, order_key, dim in _SCATTER:
        idx = labels[idx_key]
        if row >= 0 and len(idx) == num_joints and labels[order_key]:
            out[key] = labels[key][row][None].copy()  # the file has the set's joints in its order
            out[vis_key] = labels[vis_key][row][None].copy()
            continue
        out[key] = np.zeros((1, num_joints, dim), np.float32)
        out[vis_key] = np.zeros((1, num_joints), np.float32)
        if row >= 0:
            out[key][0, idx] = labels[key][row]
            out[vis_key][0, idx] = labels[vis_key][row]
    root = np.zeros((1, num_joints), np.float32)
    if row >= 0 and labels['root'][row, 0] >= 0:
        first, second = labels['root'][row]
        root[0, first] += 0.5
        root[0, second] += 0.5
    out['keypoints_3d_root'] = root
    return out
