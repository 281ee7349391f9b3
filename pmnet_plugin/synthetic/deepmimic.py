"""Read pybullet's DeepMimic clips and retarget them to SMPL's 24-joint axis-angle pose.

A rotation ``R`` in DeepMimic axes (forward +X, up +Y, right +Z) becomes ``M R M^T`` in SMPL's canonical
axes, with per-joint rest corrections ``C_j`` on the arms (DeepMimic rests with the arms down, SMPL in a
T-pose). The clip format, the axes and the joint mapping are in ``docs/data.md``. Data: DeepMimic (MIT)
motions retargeted from CMU / SFU mocap, shipped by pybullet (zlib).
"""
import glob
import json
import os
from typing import Dict, List, Optional, Sequence

import numpy as np
from scipy.spatial.transform import Rotation

from ..models.body_models.constants import SMPL_PARENTS

# (name, number of values) in a frame, after dt (1), root_pos (3) and root_quat (4).
DEEPMIMIC_JOINTS = (('chest', 4), ('neck', 4), ('right_hip', 4), ('right_knee', 1), ('right_ankle', 4),
                    ('right_shoulder', 4), ('right_elbow', 1), ('left_hip', 4), ('left_knee', 1),
                    ('left_ankle', 4), ('left_shoulder', 4), ('left_elbow', 1))
FRAME_SIZE = 44

COMMON_CLIPS = ('walk', 'run', 'jump', 'kick', 'punch', 'dance_a', 'dance_b', 'spin', 'spinkick')
RARE_CLIPS = ('cartwheel', 'backflip', 'crawl', 'roll', 'getup_facedown', 'getup_faceup')

# DeepMimic world axes -> SMPL canonical axes.
DM_TO_SMPL = np.array([[0., 0., -1.], [0., 1., 0.], [1., 0., 0.]])
_REVOLUTE_AXIS = np.array([0., 0., 1.])  # knees and elbows in the URDF

# DeepMimic joint -> SMPL joint index (spherical / revolute joints; the chest is split, docs/data.md).
DM_TO_SMPL_JOINT = {'neck': 12, 'right_hip': 2, 'right_knee': 5, 'right_ankle': 8, 'right_shoulder': 17,
                    'right_elbow': 19, 'left_hip': 1, 'left_knee': 4, 'left_ankle': 7,
                    'left_shoulder': 16, 'left_elbow': 18}
SPINE_JOINTS = (3, 6, 9)
_LEFT_ARM = (16, 18, 20, 22)
_RIGHT_ARM = (17, 19, 21, 23)


def rest_corrections() -> np.ndarray:
    """Per-joint rest corrections ``C_j`` (SMPL T-pose bone -> DeepMimic arms-down bone).

    Returns:
        np.ndarray: (24, 3, 3) rotation matrices in SMPL canonical axes.
    """
    corr = np.tile(np.eye(3), (24, 1, 1))
    corr[list(_LEFT_ARM)] = Rotation.from_euler('z', -90, degrees=True).as_matrix()
    corr[list(_RIGHT_ARM)] = Rotation.from_euler('z', 90, degrees=True).as_matrix()
    return corr


def default_motion_dir() -> str:
    """Folder of pybullet's DeepMimic clips (imports ``pybullet_data``)."""
    import pybullet_data
    return os.path.join(pybullet_data.getDataPath(), 'data', 'motions')


def list_clips(motion_dir: Optional[str] = None) -> Dict[str, str]:
    """Map clip name (``'walk'``, ``'getup_faceup'``, ...) to the path of ``humanoid3d_<name>.txt``."""
    motion_dir = motion_dir or default_motion_dir()
    paths = sorted(glob.glob(os.path.join(motion_dir, 'humanoid3d_*.txt')))
    return {os.path.basename(p)[len('humanoid3d_'):-len('.txt')]: p for p in paths}


def parse_frames(frames: np.ndarray) -> Dict[str, np.ndarray]:
    """Split raw DeepMimic frames into named fields.

    Args:
        frames (np.ndarray): (T, 44) raw frames.

    Returns:
        dict: ``dt`` (T,), ``root_pos`` (T, 3), ``root_quat`` (T, 4) wxyz, and one entry per joint of
        :data:`DEEPMIMIC_JOINTS`: (T, 4) wxyz quaternions or (T,) angles in radians.
    """
    frames = np.asarray(frames, dtype=np.float64)
    if frames.ndim != 2 or frames.shape[1] != FRAME_SIZE:
        raise ValueError(f'expected (T, {FRAME_SIZE}) DeepMimic frames, got {frames.shape}')
    out = dict(dt=frames[:, 0], root_pos=frames[:, 1:4], root_quat=frames[:, 4:8])
    col = 8
    for name, size in DEEPMIMIC_JOINTS:
        out[name] = frames[:, col] if size == 1 else frames[:, col:col + size]
        col += size
    return out


def read_clip(path: str) -> Dict[str, np.ndarray]:
    """Read one ``humanoid3d_*.txt`` clip.

    Returns:
        dict: the fields of :func:`parse_frames` plus ``loop`` (str) and ``fps`` (float, from the median
        non-zero ``dt``).
    """
    with open(path) as f:
        data = json.load(f)
    out = parse_frames(np.asarray(data['Frames']))
    dts = out['dt'][out['dt'] > 0]
    out['loop'] = str(data.get('Loop', 'none'))
    out['fps'] = float(1.0 / np.median(dts)) if len(dts) else 30.0
    return out


def _quat_wxyz_to_matrix(q: np.ndarray) -> np.ndarray:
    """(T, 4) wxyz -> (T, 3, 3)."""
    return Rotation.from_quat(np.asarray(q)[:, [1, 2, 3, 0]]).as_matrix()


def retarget_to_smpl(clip: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    """Retarget parsed DeepMimic frames to SMPL (mapping in ``docs/data.md``).

    Args:
        clip (dict): output of :func:`parse_frames` / :func:`read_clip`.

    Returns:
        dict: ``poses`` (T, 72) float32 axis-angle (global orient in SMPL's canonical Y-up frame, then the
        23 body joints), ``transl`` (T, 3) float32 root position in canonical axes (metres).
    """
    num = len(clip['dt'])
    mat = DM_TO_SMPL
    corr = rest_corrections()
    local = np.tile(np.eye(3), (num, 24, 1, 1))

    def to_smpl(rot: np.ndarray) -> np.ndarray:
        return mat @ rot @ mat.T

    local[:, 0] = to_smpl(_quat_wxyz_to_matrix(clip['root_quat']))
    chest = Rotation.from_matrix(to_smpl(_quat_wxyz_to_matrix(clip['chest']))).as_rotvec()
    for j in SPINE_JOINTS:
        local[:, j] = Rotation.from_rotvec(chest / len(SPINE_JOINTS)).as_matrix()
    for name, size in DEEPMIMIC_JOINTS:
        if name == 'chest':
            continue
        if size == 1:
            rot = Rotation.from_rotvec(clip[name][:, None] * _REVOLUTE_AXIS).as_matrix()
        else:
            rot = _quat_wxyz_to_matrix(clip[name])
        j = DM_TO_SMPL_JOINT[name]
        parent = SMPL_PARENTS[j]
        local[:, j] = corr[parent].T @ to_smpl(rot) @ corr[j]
    # Joints not driven by the clip keep their rest relation C_parent^T C_j (identity for all of them).
    poses = Rotation.from_matrix(local.reshape(-1, 3, 3)).as_rotvec().reshape(num, 72)
    transl = clip['root_pos'] @ mat.T
    return dict(poses=poses.astype(np.float32), transl=transl.astype(np.float32))


def build_pose_library(motion_dir: Optional[str] = None,
                       clips: Optional[Sequence[str]] = None) -> Dict[str, np.ndarray]:
    """Read and retarget every clip into one pose library.

    Args:
        motion_dir (str, optional): folder of the clips; pybullet's by default.
        clips (Sequence[str], optional): clip names to keep; all 15 by default.

    Returns:
        dict: ``poses`` (N, 72) float32, ``transl`` (N, 3) float32, ``clip`` (N,) str, ``frame`` (N,) int64
        (index in the clip file), ``is_rare`` (N,) bool, ``fps`` (N,) float32.
    """
    paths = list_clips(motion_dir)
    names: List[str] = list(clips) if clips is not None else list(paths)
    missing = [n for n in names if n not in paths]
    if missing:
        raise FileNotFoundError(f'clips {missing} not found (have {sorted(paths)})')
    parts = []
    for name in names:
        clip = read_clip(paths[name])
        out = retarget_to_smpl(clip)
        num = len(out['poses'])
        parts.append(dict(poses=out['poses'], transl=out['transl'], clip=np.full(num, name),
                          frame=np.arange(num, dtype=np.int64), is_rare=np.full(num, name in RARE_CLIPS),
                          fps=np.full(num, clip['fps'], dtype=np.float32)))
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def load_pose_library(path: str) -> Dict[str, np.ndarray]:
    """Load a library written by ``tools/prepare_mocap.py`` (keys as :func:`build_pose_library`)."""
    with np.load(path, allow_pickle=False) as data:
        lib = {k: data[k] for k in data.files}
    lib['clip'] = lib['clip'].astype(str)
    return lib


def save_pose_library(library: Dict[str, np.ndarray], path: str) -> None:
    """Write a library (keys as :func:`build_pose_library`) to ``path`` (``.npz``, no pickles)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    np.savez_compressed(path, **{k: (np.asarray(v).astype(str) if k == 'clip' else v)
                                 for k, v in library.items()})
