"""Keypoint conventions of MMHuman3D / SPIN files and their mapping to SMPL-24.

The name lists follow MMHuman3D (``mmhuman3d/core/conventions/keypoints_mapping/{smpl,human_data}.py``)
so that files written by MMHuman3D's converters load unchanged. Beware of a naming trap inherited from
MMHuman3D: ``'smpl'`` is the official SMPL joint order (the order our labels use), while ``'smpl_24'`` is
SPIN's 24 "ground-truth" joints (``SMPL_49[-24:]``: right_ankle, right_knee, LSP hips, ...), which is also
the order of SPIN's ``part`` / ``S`` arrays.

Mapping is by joint name. ``approximate=True`` additionally lets a few joints with a different definition
stand in for SMPL's (MMHuman3D's ``APPROXIMATE_MAP`` subset that concerns SMPL-24): LSP hips for SMPL hips,
MPII pelvis for SMPL pelvis, LSP neck for SMPL neck, OpenPose joints for their SMPL namesakes. This is our
choice (default off): those joints sit a few centimetres from SMPL's, which biases a 2D loss.
"""
from typing import Dict, List, Optional, Tuple

import numpy as np

# SMPL-24 in MMHuman3D's spelling (spine_1 ...); same order as constants.SMPL_JOINT_NAMES.
SMPL_KEYPOINTS: List[str] = [
    'pelvis', 'left_hip', 'right_hip', 'spine_1', 'left_knee', 'right_knee', 'spine_2',
    'left_ankle', 'right_ankle', 'spine_3', 'left_foot', 'right_foot', 'neck', 'left_collar',
    'right_collar', 'head', 'left_shoulder', 'right_shoulder', 'left_elbow', 'right_elbow',
    'left_wrist', 'right_wrist', 'left_hand', 'right_hand'
]
_OPENPOSE_25 = [
    'nose_openpose', 'neck_openpose', 'right_shoulder_openpose', 'right_elbow_openpose',
    'right_wrist_openpose', 'left_shoulder_openpose', 'left_elbow_openpose',
    'left_wrist_openpose', 'pelvis_openpose', 'right_hip_openpose', 'right_knee_openpose',
    'right_ankle_openpose', 'left_hip_openpose', 'left_knee_openpose', 'left_ankle_openpose',
    'right_eye_openpose', 'left_eye_openpose', 'right_ear_openpose', 'left_ear_openpose',
    'left_bigtoe_openpose', 'left_smalltoe_openpose', 'left_heel_openpose',
    'right_bigtoe_openpose', 'right_smalltoe_openpose', 'right_heel_openpose'
]
_FEET_HANDS_FACE = [
    'nose', 'right_eye', 'left_eye', 'right_ear', 'left_ear', 'left_bigtoe', 'left_smalltoe',
    'left_heel', 'right_bigtoe', 'right_smalltoe', 'right_heel', 'left_thumb', 'left_index',
    'left_middle', 'left_ring', 'left_pinky', 'right_thumb', 'right_index', 'right_middle',
    'right_ring', 'right_pinky'
]
_EXTRA_9 = [
    'right_hip_extra', 'left_hip_extra', 'neck_extra', 'headtop', 'pelvis_extra',
    'thorax_extra', 'spine_extra', 'jaw_extra', 'head_extra'
]
SMPL_45_KEYPOINTS = SMPL_KEYPOINTS + _FEET_HANDS_FACE
SMPL_54_KEYPOINTS = SMPL_45_KEYPOINTS + _EXTRA_9
# SPIN's 24 ground-truth joints (SPIN constants.JOINT_NAMES[25:]).
SPIN_24_KEYPOINTS: List[str] = [
    'right_ankle', 'right_knee', 'right_hip_extra', 'left_hip_extra', 'left_knee', 'left_ankle',
    'right_wrist', 'right_elbow', 'right_shoulder', 'left_shoulder', 'left_elbow', 'left_wrist',
    'neck_extra', 'headtop', 'pelvis_extra', 'thorax_extra', 'spine_extra', 'jaw_extra',
    'head_extra', 'nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear'
]
SMPL_49_KEYPOINTS = _OPENPOSE_25 + SPIN_24_KEYPOINTS


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
    + _fingers('right') + _FEET_HANDS_FACE + _FACE_68 + _EXTRA_9 + _OPENPOSE_25
    + ['spine_4_3dhp', 'left_clavicle_3dhp', 'right_clavicle_3dhp', 'left_hand_3dhp',
       'right_hand_3dhp', 'left_toe_3dhp', 'right_toe_3dhp', 'head_h36m', 'headtop_h36m',
       'head_bottom_pt', 'left_hand', 'right_hand'])

KEYPOINT_CONVENTIONS: Dict[str, List[str]] = {
    'human_data': HUMAN_DATA_KEYPOINTS,
    'smpl': SMPL_KEYPOINTS,
    'smpl_45': SMPL_45_KEYPOINTS,
    'smpl_54': SMPL_54_KEYPOINTS,
    'smpl_49': SMPL_49_KEYPOINTS,
    'smpl_24': SPIN_24_KEYPOINTS,
    'spin_24': SPIN_24_KEYPOINTS,
}

# Stand-ins for SMPL-24 joints, tried in order when ``approximate=True``.
APPROXIMATE_SMPL: Dict[str, List[str]] = {
    'pelvis': ['pelvis_extra', 'pelvis_openpose'],
    'left_hip': ['left_hip_extra', 'left_hip_openpose'],
    'right_hip': ['right_hip_extra', 'right_hip_openpose'],
    'neck': ['neck_extra', 'neck_openpose'],
    'left_hand': ['left_hand_3dhp'],
    'right_hand': ['right_hand_3dhp'],
    **{n: [f'{n}_openpose'] for n in (
        'left_shoulder', 'right_shoulder', 'left_elbow', 'right_elbow', 'left_wrist',
        'right_wrist', 'left_knee', 'right_knee', 'left_ankle', 'right_ankle')},
}


def get_smpl24_mapping(convention: str,
                       approximate: bool = False) -> Tuple[np.ndarray, np.ndarray]:
    """Index pairs that copy joints of ``convention`` into SMPL-24.

    Args:
        convention (str): One of :data:`KEYPOINT_CONVENTIONS`.
        approximate (bool): Allow stand-in joints (see module docstring). Defaults to False.

    Returns:
        tuple: ``dst_idx`` (M,) indices into SMPL-24 and ``src_idx`` (M,) into the convention.
    """
    if convention not in KEYPOINT_CONVENTIONS:
        raise KeyError(f'Unknown keypoint convention {convention!r}; supported: '
                       f'{sorted(KEYPOINT_CONVENTIONS)}')
    src_names = KEYPOINT_CONVENTIONS[convention]
    lookup = {name: i for i, name in enumerate(src_names)}
    dst_idx, src_idx = [], []
    for d, name in enumerate(SMPL_KEYPOINTS):
        candidates = [name] + (APPROXIMATE_SMPL.get(name, []) if approximate else [])
        for cand in candidates:
            if cand in lookup:
                dst_idx.append(d)
                src_idx.append(lookup[cand])
                break
    return np.asarray(dst_idx, dtype=np.int64), np.asarray(src_idx, dtype=np.int64)


def convert_to_smpl24(keypoints: np.ndarray,
                      convention: str,
                      mask: Optional[np.ndarray] = None,
                      approximate: bool = False) -> Tuple[np.ndarray, np.ndarray]:
    """Reorder keypoints of any supported convention into SMPL-24.

    Note:
        - samples: N;  source joints: K;  channels: C (2D: x, y, conf; 3D: x, y, z, conf)

    Args:
        keypoints (np.ndarray): (N, K, C) keypoints in ``convention``.
        convention (str): Source convention name.
        mask (np.ndarray, optional): (K,) per-joint availability of the file (HumanData mask).
        approximate (bool): Allow stand-in joints. Defaults to False.

    Returns:
        tuple: ``out`` (N, 24, C) with zeros where unmapped, and ``valid`` (24,) float32 in {0, 1}.
    """
    num_src = len(KEYPOINT_CONVENTIONS.get(convention, ()))
    dst_idx, src_idx = get_smpl24_mapping(convention, approximate)
    if keypoints.shape[1] != num_src:
        raise ValueError(f'Convention {convention!r} has {num_src} joints but the keypoints have '
                         f'{keypoints.shape[1]}')
    identity = num_src == len(dst_idx) == 24 and (dst_idx == np.arange(24)).all()
    if identity and (src_idx == dst_idx).all():
        out = np.array(keypoints, dtype=np.float32)  # identity (SMPL order): one copy
    else:
        out = np.zeros(keypoints.shape[:1] + (24, ) + keypoints.shape[2:], dtype=np.float32)
        out[:, dst_idx] = np.take(keypoints, src_idx, axis=1)
    valid = np.zeros(24, dtype=np.float32)
    src_mask = np.ones(num_src, np.float32) if mask is None else np.asarray(mask, np.float32)
    valid[dst_idx] = (src_mask[src_idx] > 0).astype(np.float32)
    return out, valid
