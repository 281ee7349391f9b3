"""Joint orders, index maps and file locations shared by every SMPL-aware component.

Sources: the official SMPL joint order (Loper et al. 2015), SPIN's ``constants.py`` (Kolotouros et al. 2019)
for the Human3.6M-17 regressor order and ``H36M_TO_J14``, smplx's ``vertex_ids.py`` for the face keypoints.
"""
from typing import Dict, List

NUM_SMPL_JOINTS = 24
NUM_SMPL_VERTICES = 6890
NUM_SMPL_FACES = 13776
NUM_BETAS = 10
# Value of the root's parent in the official ``kintree_table`` (uint32 -1).
KINTREE_ROOT_PARENT = 4294967295

SMPL_JOINT_NAMES: List[str] = [
    'pelvis', 'left_hip', 'right_hip', 'spine1', 'left_knee', 'right_knee', 'spine2', 'left_ankle',
    'right_ankle', 'spine3', 'left_foot', 'right_foot', 'neck', 'left_collar', 'right_collar', 'head',
    'left_shoulder', 'right_shoulder', 'left_elbow', 'right_elbow', 'left_wrist', 'right_wrist', 'left_hand',
    'right_hand'
]
# Parent of each SMPL joint (-1 for the root), as in the official kintree_table.
SMPL_PARENTS: List[int] = [-1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 9, 12, 13, 14, 16, 17, 18, 19, 20, 21]
# Index of the mirrored joint (left <-> right); used for horizontal flips.
SMPL_FLIP_INDICES: List[int] = [
    0, 2, 1, 3, 5, 4, 6, 8, 7, 9, 11, 10, 12, 14, 13, 15, 17, 16, 19, 18, 21, 20, 23, 22
]

# Human3.6M-17 order of SPIN's ``J_regressor_h36m.npy`` (17, 6890). Note SPIN's convention: indices 1-3 are
# the LEFT leg and 4-6 the RIGHT leg (see SPIN's h36m preprocessing, ``global_idx``), which is what makes
# ``H36M_TO_J14`` below pick the right ankle first.
H36M_JOINT_NAMES: List[str] = [
    'pelvis', 'left_hip', 'left_knee', 'left_ankle', 'right_hip', 'right_knee', 'right_ankle', 'spine',
    'thorax', 'jaw', 'head_top', 'left_shoulder', 'left_elbow', 'left_wrist', 'right_shoulder', 'right_elbow',
    'right_wrist'
]
H36M_FLIP_INDICES: List[int] = [0, 4, 5, 6, 1, 2, 3, 7, 8, 9, 10, 14, 15, 16, 11, 12, 13]
# SPIN's H36M_TO_J17 / H36M_TO_J14 = H36M_TO_J17[:14] (LSP order, used for MPJPE / PA-MPJPE on H36M, 3DPW).
H36M_TO_J17: List[int] = [6, 5, 4, 1, 2, 3, 16, 15, 14, 11, 12, 13, 8, 10, 0, 7, 9]
H36M_TO_LSP14: List[int] = H36M_TO_J17[:14]
LSP14_JOINT_NAMES: List[str] = [
    'right_ankle', 'right_knee', 'right_hip', 'left_hip', 'left_knee', 'left_ankle', 'right_wrist',
    'right_elbow', 'right_shoulder', 'left_shoulder', 'left_elbow', 'left_wrist', 'neck', 'head_top'
]

# COCO-17 keypoints (MMPose / COCO order).
COCO17_JOINT_NAMES: List[str] = [
    'nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear', 'left_shoulder', 'right_shoulder', 'left_elbow',
    'right_elbow', 'left_wrist', 'right_wrist', 'left_hip', 'right_hip', 'left_knee', 'right_knee',
    'left_ankle', 'right_ankle'
]
COCO17_FLIP_INDICES: List[int] = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
# COCO keypoints 5..16 taken from SMPL joints (SPIN's ALL_JOINTS_TO_COCO_MAP restricted to the 24 joints).
COCO17_BODY_FROM_SMPL: List[int] = [16, 17, 18, 19, 20, 21, 1, 2, 4, 5, 7, 8]
# COCO keypoints 0..4 (nose, left eye, right eye, left ear, right ear) from vertices of the official SMPL
# mesh (smplx ``vertex_ids['smplh']``: nose 332, reye 6260, leye 2800, rear 4071, lear 583).
SMPL_COCO_FACE_VERTEX_IDS: List[int] = [332, 2800, 6260, 583, 4071]

# Default file locations (see docs/design.md).
DEFAULT_BODY_MODEL_DIR = 'data/body_models'
DEFAULT_SMPL_MODEL_PATH = 'data/body_models/smpl/SMPL_NEUTRAL.pkl'
DEFAULT_H36M_REGRESSOR_PATH = 'data/body_models/J_regressor_h36m.npy'
DEFAULT_EXTRA_REGRESSOR_PATH = 'data/body_models/J_regressor_extra.npy'
DEFAULT_MEAN_PARAMS_PATH = 'data/body_models/smpl_mean_params.npz'

# Where each file comes from (used in error messages).
OBTAIN_HINTS: Dict[str, str] = {
    'smpl': ('download "SMPL for Python" from https://smpl.is.tue.mpg.de (registration required) and save '
             'the neutral model as SMPL_NEUTRAL.pkl'),
    'h36m_regressor': ("J_regressor_h36m.npy ships with SPIN's data (fetch_data.sh: "
                       'http://visiondata.cis.upenn.edu/spin/data.tar.gz)'),
    'extra_regressor': ("J_regressor_extra.npy ships with SPIN's data (fetch_data.sh: "
                        'http://visiondata.cis.upenn.edu/spin/data.tar.gz) and is linked from '
                        "MMHuman3D's configs/spin/README.md"),
    'gendered_smpl': ('download "SMPL for Python" from https://smpl.is.tue.mpg.de (registration required) '
                      'and save the male and female models as SMPL_MALE.pkl and SMPL_FEMALE.pkl'),
    'mean_params': ("smpl_mean_params.npz ships with SPIN's data (fetch_data.sh: "
                    'http://visiondata.cis.upenn.edu/spin/data.tar.gz)'),
    'offline': ('or, offline, generate a procedural stand-in body in the same format with '
                '`python tools/make_synthetic_smpl.py --out data/body_models`'),
}
