"""Keypoint conventions of MMHuman3D / SPIN files as name lists, and name-based conversion between them.

A convention is an ordered list of joint names. The names follow MMHuman3D
(``mmhuman3d/core/conventions/keypoints_mapping/*.py``), where a name stands for one joint
*definition*: ``'pelvis'`` is SMPL's pelvis, ``'pelvis_extra'`` the pelvis of MPII/H36M (regressed
from the mesh with SPIN's ``J_regressor_extra``), ``'pelvis_openpose'`` OpenPose's mid-hip. Two
conventions share a joint only where they share its name, so converting by name never replaces one
definition by another. ``'human_data'`` (190 joints) holds every name of every other convention:
it is the container MMHuman3D stores all its datasets in, and the joint set our real-data configs
supervise (``docs/datasets.md``).

Naming trap inherited from MMHuman3D: ``'smpl'`` is the official SMPL-24 order, while ``'smpl_24'``
(alias ``'spin_24'``) is SPIN's 24 ground-truth joints, the columns of SPIN's ``part`` / ``S``
arrays (``SMPL_49[-24:]``: right_ankle, right_knee, LSP hips, ...).
"""
import re
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from pmnet_plugin.models.body_models.constants import SMPL_JOINT_NAMES

# SMPL-24 in MMHuman3D's spelling: the official names with ``spine1`` written ``spine_1`` (and 2, 3).
SMPL_KEYPOINTS: List[str] = [re.sub(r'^spine(\d)$', r'spine_\1', name) for name in SMPL_JOINT_NAMES]
OPENPOSE_25_KEYPOINTS: List[str] = [
    'nose_openpose', 'neck_openpose', 'right_shoulder_openpose', 'right_elbow_openpose',
    'right_wrist_openpose', 'left_shoulder_openpose', 'left_elbow_openpose',
    'left_wrist_openpose', 'pelvis_openpose', 'right_hip_openpose', 'right_knee_openpose',
    'right_ankle_openpose', 'left_hip_openpose', 'left_knee_openpose', 'left_ankle_openpose',
    'right_eye_openpose', 'left_eye_openpose', 'right_ear_openpose', 'left_ear_openpose',
    'left_bigtoe_openpose', 'left_smalltoe_openpose', 'left_heel_openpose',
    'right_bigtoe_openpose', 'right_smalltoe_openpose', 'right_heel_openpose'
]
# Mesh points of SMPL-45 (smplx's VertexJointSelector order: face, feet, finger tips).
VERTEX_KEYPOINTS: List[str] = [
    'nose', 'right_eye', 'left_eye', 'right_ear', 'left_ear', 'left_bigtoe', 'left_smalltoe',
    'left_heel', 'right_bigtoe', 'right_smalltoe', 'right_heel', 'left_thumb', 'left_index',
    'left_middle', 'left_ring', 'left_pinky', 'right_thumb', 'right_index', 'right_middle',
    'right_ring', 'right_pinky'
]
# Rows of SPIN's J_regressor_extra.npy (9, 6890): LSP hips, neck and head top, MPII pelvis and
# thorax, H36M spine, jaw and head.
EXTRA_KEYPOINTS: List[str] = [
    'right_hip_extra', 'left_hip_extra', 'neck_extra', 'headtop', 'pelvis_extra',
    'thorax_extra', 'spine_extra', 'jaw_extra', 'head_extra'
]
SMPL_45_KEYPOINTS = SMPL_KEYPOINTS + VERTEX_KEYPOINTS
SMPL_54_KEYPOINTS = SMPL_45_KEYPOINTS + EXTRA_KEYPOINTS
# SPIN's 24 ground-truth joints (SPIN constants.JOINT_NAMES[25:]), the columns of ``part`` and ``S``.
SPIN_24_KEYPOINTS: List[str] = [
    'right_ankle', 'right_knee', 'right_hip_extra', 'left_hip_extra', 'left_knee', 'left_ankle',
    'right_wrist', 'right_elbow', 'right_shoulder', 'left_shoulder', 'left_elbow', 'left_wrist',
    'neck_extra', 'headtop', 'pelvis_extra', 'thorax_extra', 'spine_extra', 'jaw_extra',
    'head_extra', 'nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear'
]
SPIN_49_KEYPOINTS = OPENPOSE_25_KEYPOINTS + SPIN_24_KEYPOINTS
# Human3.6M-17 as MMHuman3D's H36M converter stores it (the joint order of J_regressor_h36m.npy).
H36M_KEYPOINTS: List[str] = [
    'pelvis_extra', 'left_hip_extra', 'left_knee', 'left_ankle', 'right_hip_extra', 'right_knee',
    'right_ankle', 'spine_extra', 'neck_extra', 'head_extra', 'headtop', 'left_shoulder',
    'left_elbow', 'left_wrist', 'right_shoulder', 'right_elbow', 'right_wrist'
]
# The same 17 Human3.6M joints under SPIN's definitions (the J_regressor_extra rows SPIN trains them
# with): SPIN stores H36M joint 9 (neck/nose) in its 'Jaw (H36M)' slot and joint 10 (head) in 'Head
# (H36M)', where MMHuman3D's converter names them 'head_extra' and 'headtop'.
H36M_SPIN_KEYPOINTS: List[str] = H36M_KEYPOINTS[:9] + ['jaw_extra', 'head_extra'] + H36M_KEYPOINTS[11:]
# ``rename_keypoints`` for an MMHuman3D Human3.6M file, giving its joints SPIN's definitions.
MMHUMAN3D_H36M_TO_SPIN: Dict[str, str] = {'head_extra': 'jaw_extra', 'headtop': 'head_extra'}
MPI_INF_3DHP_KEYPOINTS: List[str] = [
    'spine_3', 'spine_4_3dhp', 'spine_2', 'spine_extra', 'pelvis_extra', 'neck_extra',
    'head_extra', 'headtop', 'left_clavicle_3dhp', 'left_shoulder', 'left_elbow', 'left_wrist',
    'left_hand_3dhp', 'right_clavicle_3dhp', 'right_shoulder', 'right_elbow', 'right_wrist',
    'right_hand_3dhp', 'left_hip_extra', 'left_knee', 'left_ankle', 'left_foot', 'left_toe_3dhp',
    'right_hip_extra', 'right_knee', 'right_ankle', 'right_foot', 'right_toe_3dhp'
]
MPI_INF_3DHP_TEST_KEYPOINTS: List[str] = [
    'headtop', 'neck_extra', 'right_shoulder', 'right_elbow', 'right_wrist', 'left_shoulder',
    'left_elbow', 'left_wrist', 'right_hip_extra', 'right_knee', 'right_ankle', 'left_hip_extra',
    'left_knee', 'left_ankle', 'pelvis_extra', 'spine_extra', 'head_extra'
]
COCO_KEYPOINTS: List[str] = [
    'nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear', 'left_shoulder', 'right_shoulder',
    'left_elbow', 'right_elbow', 'left_wrist', 'right_wrist', 'left_hip_extra', 'right_hip_extra',
    'left_knee', 'right_knee', 'left_ankle', 'right_ankle'
]
LSP_KEYPOINTS: List[str] = [
    'right_ankle', 'right_knee', 'right_hip_extra', 'left_hip_extra', 'left_knee', 'left_ankle',
    'right_wrist', 'right_elbow', 'right_shoulder', 'left_shoulder', 'left_elbow', 'left_wrist',
    'neck_extra', 'headtop'
]
MPII_KEYPOINTS: List[str] = [
    'right_ankle', 'right_knee', 'right_hip_extra', 'left_hip_extra', 'left_knee', 'left_ankle',
    'pelvis_extra', 'thorax_extra', 'neck_extra', 'headtop', 'right_wrist', 'right_elbow',
    'right_shoulder', 'left_shoulder', 'left_elbow', 'left_wrist'
]
PW3D_KEYPOINTS: List[str] = [
    'nose', 'neck_extra', 'right_shoulder', 'right_elbow', 'right_wrist', 'left_shoulder',
    'left_elbow', 'left_wrist', 'right_hip_extra', 'right_knee', 'right_ankle', 'left_hip_extra',
    'left_knee', 'left_ankle', 'right_eye', 'left_eye', 'right_ear', 'left_ear'
]


def _fingers(side: str) -> List[str]:
    return [f'{side}_{f}_{i}' for f in ('index', 'middle', 'pinky', 'ring', 'thumb')
            for i in (1, 2, 3)]


_FACE_68 = (
    [f'right_eyebrow_{i}' for i in range(1, 6)] + [f'left_eyebrow_{i}' for i in range(5, 0, -1)]
    + [f'nosebridge_{i}' for i in range(1, 5)]
    + ['right_nose_2', 'right_nose_1', 'nose_middle', 'left_nose_1', 'left_nose_2']
    + [f'right_eye_{i}' for i in range(1, 7)]
    + ['left_eye_4', 'left_eye_3', 'left_eye_2', 'left_eye_1', 'left_eye_6', 'left_eye_5']
    + ['right_mouth_1', 'right_mouth_2', 'right_mouth_3', 'mouth_top', 'left_mouth_3',
       'left_mouth_2', 'left_mouth_1', 'left_mouth_5', 'left_mouth_4', 'mouth_bottom',
       'right_mouth_4', 'right_mouth_5']
    + ['right_lip_1', 'right_lip_2', 'lip_top', 'left_lip_2', 'left_lip_1', 'left_lip_3',
       'lip_bottom', 'right_lip_3']
    + [f'right_contour_{i}' for i in range(1, 9)] + ['contour_middle']
    + [f'left_contour_{i}' for i in range(8, 0, -1)])

# MMHuman3D's 190-joint 'human_data' convention.
HUMAN_DATA_KEYPOINTS: List[str] = (
    SMPL_KEYPOINTS[:22] + ['jaw', 'left_eyeball', 'right_eyeball'] + _fingers('left')
    + _fingers('right') + VERTEX_KEYPOINTS + _FACE_68 + EXTRA_KEYPOINTS + OPENPOSE_25_KEYPOINTS
    + ['spine_4_3dhp', 'left_clavicle_3dhp', 'right_clavicle_3dhp', 'left_hand_3dhp',
       'right_hand_3dhp', 'left_toe_3dhp', 'right_toe_3dhp', 'head_h36m', 'headtop_h36m',
       'head_bottom_pt', 'left_hand', 'right_hand'])

KEYPOINT_CONVENTIONS: Dict[str, List[str]] = {
    'human_data': HUMAN_DATA_KEYPOINTS,
    'smpl': SMPL_KEYPOINTS,
    'smpl_45': SMPL_45_KEYPOINTS,
    'smpl_54': SMPL_54_KEYPOINTS,
    'smpl_49': SPIN_49_KEYPOINTS,
    'spin_49': SPIN_49_KEYPOINTS,
    'smpl_24': SPIN_24_KEYPOINTS,
    'spin_24': SPIN_24_KEYPOINTS,
    'openpose_25': OPENPOSE_25_KEYPOINTS,
    'h36m': H36M_KEYPOINTS,
    'h36m_spin': H36M_SPIN_KEYPOINTS,
    'mpi_inf_3dhp': MPI_INF_3DHP_KEYPOINTS,
    'mpi_inf_3dhp_test': MPI_INF_3DHP_TEST_KEYPOINTS,
    'coco': COCO_KEYPOINTS,
    'lsp': LSP_KEYPOINTS,
    'mpii': MPII_KEYPOINTS,
    'pw3d': PW3D_KEYPOINTS,
}

# Joints a sample's 3D labels are made relative to, tried in this order; the first whose joints are
# all labelled (and in the joint set) wins. SMPL's own pelvis, else the dataset's pelvis (MPII/H36M/
# 3DHP 'pelvis_extra', as SPIN evaluates H36M), else the midpoint of the LSP-style hips (SPIN's
# training loss uses that midpoint for every dataset).
ROOT_CANDIDATES: Tuple[Tuple[str, ...], ...] = (('pelvis', ), ('pelvis_extra', ),
                                                ('left_hip_extra', 'right_hip_extra'))


def get_keypoint_names(convention: str) -> List[str]:
    """The joint names of ``convention``.

    Args:
        convention (str): One of :data:`KEYPOINT_CONVENTIONS`.

    Returns:
        list[str]: Names in the convention's order.
    """
    if convention not in KEYPOINT_CONVENTIONS:
        raise KeyError(f'Unknown keypoint convention {convention!r}; supported: '
                       f'{sorted(KEYPOINT_CONVENTIONS)}')
    return KEYPOINT_CONVENTIONS[convention]


def get_mapping(src: str, dst: str) -> Tuple[np.ndarray, np.ndarray]:
    """Index pairs that copy the joints ``src`` shares with ``dst`` (same name = same definition).

    Args:
        src (str): Source convention.
        dst (str): Destination convention.

    Returns:
        tuple: ``dst_idx`` (M,) and ``src_idx`` (M,) int64 arrays.
    """
    lookup = {name: i for i, name in enumerate(get_keypoint_names(src))}
    pairs = [(d, lookup[n]) for d, n in enumerate(get_keypoint_names(dst)) if n in lookup]
    dst_idx, src_idx = zip(*pairs) if pairs else ((), ())
    return np.asarray(dst_idx, np.int64), np.asarray(src_idx, np.int64)


def convert_keypoints(keypoints: np.ndarray,
                      src: str,
                      dst: str,
                      mask: Optional[np.ndarray] = None) -> Tuple[np.ndarray, np.ndarray]:
    """Reorder keypoints from convention ``src`` into ``dst`` by joint name.

    Note:
        - samples: N;  joints: J (src), D (dst);  channels: C

    Args:
        keypoints (np.ndarray): (N, J, C) keypoints in ``src``.
        src (str): Source convention.
        dst (str): Destination convention.
        mask (np.ndarray, optional): (J,) availability of each source joint (HumanData mask).

    Returns:
        tuple: ``out`` (N, D, C) with zeros where ``dst`` has no source joint, and ``valid`` (D,)
        float32 in {0, 1}.
    """
    num_src = len(get_keypoint_names(src))
    if keypoints.shape[1] != num_src:
        raise ValueError(f'Convention {src!r} has {num_src} joints but the keypoints have '
                         f'{keypoints.shape[1]}')
    dst_idx, src_idx = get_mapping(src, dst)
    out = np.zeros(keypoints.shape[:1] + (len(get_keypoint_names(dst)), ) + keypoints.shape[2:],
                   dtype=np.float32)
    out[:, dst_idx] = np.take(keypoints, src_idx, axis=1)
    valid = np.zeros(out.shape[1], dtype=np.float32)
    src_mask = np.ones(num_src, np.float32) if mask is None else np.asarray(mask, np.float32)
    valid[dst_idx] = (src_mask[src_idx] > 0).astype(np.float32)
    return out, valid


def flip_indices(names: Sequence[str]) -> List[int]:
    """Mirror partner of every joint: ``left_*`` <-> ``right_*`` (e.g. ``left_hip_extra``), else itself.

    Args:
        names (Sequence[str]): Joint names.

    Returns:
        list[int]: ``flip[i]`` = index of the mirrored joint of ``names[i]``.
    """
    lookup = {n: i for i, n in enumerate(names)}
    out = []
    for i, name in enumerate(names):
        if name.startswith('left_'):
            partner = 'right_' + name[5:]
        elif name.startswith('right_'):
            partner = 'left_' + name[6:]
        else:
            partner = name
        out.append(lookup.get(partner, i))
    return out


def root_indices(names: Sequence[str], visible: np.ndarray) -> np.ndarray:
    """Per sample, the joints its 3D labels are relative to (:data:`ROOT_CANDIDATES`).

    Args:
        names (Sequence[str]): The J joint names of ``visible``'s columns.
        visible (np.ndarray): (N, J) visibility of the 3D joints.

    Returns:
        np.ndarray: (N, 2) int64 indices into ``names``; both equal for a single root joint, ``-1``
        where no candidate is labelled.
    """
    lookup = {n: i for i, n in enumerate(names)}
    out = np.full((visible.shape[0], 2), -1, np.int64)
    todo = np.ones(visible.shape[0], bool)
    for cand in ROOT_CANDIDATES:
        if not all(c in lookup for c in cand):
            continue
        ids = [lookup[c] for c in cand]
        ok = todo & (visible[:, ids] > 0).all(1)
        out[ok] = [ids[0], ids[-1]]
        todo &= ~ok
    return out
