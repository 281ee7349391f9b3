"""Where each named joint comes from on the SMPL mesh, and a module that regresses a joint set.

A joint *set* is a keypoint convention (:mod:`pmnet_plugin.datasets.keypoint_conventions`): an
ordered list of names. Each name has one regression source on the mesh:

==========  =====================================================  ===================================
kind        source                                                 names
==========  =====================================================  ===================================
``smpl``    SMPL joint regressor (row of the model's J_regressor)  the 24 SMPL joints, OpenPose body
``extra``   row of SPIN's ``J_regressor_extra.npy`` (9, V)         ``*_extra``, ``headtop``
``h36m``    row of SPIN's ``J_regressor_h36m.npy`` (17, V)         ``head_h36m`` (H36M joint 10)
``vertex``  one mesh vertex (smplx ``vertex_ids['smplh']``)        face, feet and finger-tip points
==========  =====================================================  ===================================

OpenPose joints follow SPIN's ``constants.JOINT_MAP`` (e.g. ``pelvis_openpose`` = SMPL pelvis,
``nose_openpose`` = the nose vertex). A name without a source (finger knuckles, face contour,
MPI-INF-3DHP clavicles/toes, ...) cannot be supervised by a mesh and is reported, never replaced.
``head_h36m`` is Human3.6M's head joint (index 10 of the 17), after MMHuman3D's naming.
"""
import logging
import warnings
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from mmengine.logging import print_log
from torch import Tensor, nn

# the module, read at call time: it imports .constants, so it is still loading when this file is
# imported on its behalf (pmnet_plugin.datasets -> keypoint_conventions -> pmnet_plugin.models)
from pmnet_plugin.datasets import keypoint_conventions as conventions
from .constants import OBTAIN_HINTS

Source = Tuple[str, int]
SOURCE_KINDS = ('smpl', 'extra', 'h36m', 'vertex')
# smplx vertex_ids['smplh'] in VERTEX_KEYPOINTS order (official SMPL mesh topology).
SMPL_VERTEX_KEYPOINT_IDS: List[int] = [
    332, 6260, 2800, 4071, 583, 3216, 3226, 3387, 6617, 6624, 6787, 2746, 2319, 2445, 2556, 2673,
    6191, 5782, 5905, 6016, 6133
]
# SPIN constants.JOINT_MAP for the 25 OpenPose joints, as (kind, joint name).
_OPENPOSE_FROM = {
    'nose': ('vertex', 'nose'), 'neck': ('smpl', 'neck'),
    'pelvis': ('smpl', 'pelvis'),
    **{f'{s}_{j}': ('smpl', f'{s}_{j}') for s in ('left', 'right')
       for j in ('shoulder', 'elbow', 'wrist', 'hip', 'knee', 'ankle')},
    **{f'{s}_{j}': ('vertex', f'{s}_{j}') for s in ('left', 'right')
       for j in ('eye', 'ear', 'bigtoe', 'smalltoe', 'heel')},
}
_H36M_ROWS = {'head_h36m': 10}


def joint_source(name: str) -> Optional[Source]:
    """The regression source of joint ``name`` (see the module docstring).

    Args:
        name (str): A joint name of any convention.

    Returns:
        tuple | None: ``(kind, index)`` with ``kind`` in :data:`SOURCE_KINDS` and ``index`` into the
        SMPL joints / extra rows / H36M rows / ``VERTEX_KEYPOINTS``; ``None`` if the mesh has no
        point for it.
    """
    lists = (('smpl', conventions.SMPL_KEYPOINTS), ('extra', conventions.EXTRA_KEYPOINTS),
             ('vertex', conventions.VERTEX_KEYPOINTS))
    for kind, names in lists:
        if name in names:
            return kind, names.index(name)
    if name in _H36M_ROWS:
        return 'h36m', _H36M_ROWS[name]
    if name.endswith('_openpose'):
        kind, base = _OPENPOSE_FROM.get(name[:-len('_openpose')], (None, None))
        if kind is not None:
            names = conventions.SMPL_KEYPOINTS if kind == 'smpl' else conventions.VERTEX_KEYPOINTS
            return kind, names.index(base)
    return None


def regressable_mask(names: Sequence[str]) -> List[bool]:
    """Whether each joint has a regression source at all (independent of which files exist)."""
    return [joint_source(n) is not None for n in names]


class JointSetRegressor(nn.Module):
    """Regress the joints of a joint set from the outputs of :class:`SMPLBodyModel`.

    Gathers every joint from a pool of candidate points, ``[SMPL joints (24), extra joints (9),
    H36M joints (17), vertex keypoints (21)]``, by precomputed indices. Joints whose source is
    missing (no source at all, or the body model has no extra / H36M regressor) come out as zeros
    with ``available == 0``; a warning names them and the file that would provide them, once.

    Args:
        joint_set (str): Keypoint convention name (e.g. ``'smpl'``, ``'human_data'``).
        has_extra (bool): The body model returns ``joints_extra`` (J_regressor_extra given).
        has_h36m (bool): The body model returns ``joints_h36m``.
        missing_hint (dict, optional): ``kind -> text`` naming the configured file that was not
            found, used in the warning.

    Note:
        - batch size: B;  joints of the set: J;  vertices: V
    """

    _POOL = (('smpl', 24), ('extra', 9), ('h36m', 17), ('vertex', 21))

    def __init__(self,
                 joint_set: str,
                 has_extra: bool = False,
                 has_h36m: bool = False,
                 missing_hint: Optional[Dict[str, str]] = None) -> None:
        super().__init__()
        self.joint_set = joint_set
        self.names = list(conventions.get_keypoint_names(joint_set))
        offsets, start = {}, 0
        for kind, size in self._POOL:
            offsets[kind] = start
            start += size
        zero_slot = start  # the pool ends with one zero point
        have = dict(smpl=True, vertex=True, extra=has_extra, h36m=has_h36m)
        index, available, lost = [], [], {}
        for name in self.names:
            src = joint_source(name)
            if src is not None and have[src[0]]:
                index.append(offsets[src[0]] + src[1])
                available.append(1.)
            else:
                index.append(zero_slot)
                available.append(0.)
                if src is not None:
                    lost.setdefault(src[0], []).append(name)
        self.register_buffer('index', torch.as_tensor(index, dtype=torch.long), persistent=False)
        self.register_buffer('available', torch.as_tensor(available), persistent=False)
        # whether a joint comes from the mesh (extra, H36M, vertex points) rather than the SMPL joints
        self.needs_mesh_points = any(i >= 24 and a > 0 for i, a in zip(index, available))
        self.lost = lost
        for kind, names in lost.items():
            hint = (missing_hint or {}).get(kind, f'no {kind} regressor was given to the body model')
            msg = (f'Joint set {joint_set!r}: {len(names)} joints cannot be regressed from the mesh and '
                   f'get no loss ({", ".join(names)}): {hint}. To obtain it: '
                   f'{OBTAIN_HINTS[kind + "_regressor"]}; {OBTAIN_HINTS["offline"]}.')
            print_log(msg, logger='current', level=logging.WARNING)
            warnings.warn(msg)

    @property
    def num_joints(self) -> int:
        """int: Number J of joints in the set."""
        return len(self.names)

    def forward(self, body: Dict[str, Tensor]) -> Tensor:
        """Pick the set's joints from a body-model output.

        Args:
            body (dict): ``joints`` (B, 24, 3), and where the set needs them ``vertex_keypoints``
                (B, 21, 3), ``joints_extra`` (B, 9, 3) and ``joints_h36m`` (B, 17, 3).

        Returns:
            Tensor: Joints (B, J, 3); zeros where ``available`` is 0.
        """
        joints = body['joints']
        batch = joints.shape[0]
        zeros = joints.new_zeros
        pool = torch.cat([
            joints[:, :24],
            body['joints_extra'] if body.get('joints_extra') is not None else zeros(batch, 9, 3),
            body['joints_h36m'] if body.get('joints_h36m') is not None else zeros(batch, 17, 3),
            body['vertex_keypoints'] if body.get('vertex_keypoints') is not None else zeros(batch, 21, 3),
            zeros(batch, 1, 3)
        ], dim=1)
        return pool.index_select(1, self.index)
