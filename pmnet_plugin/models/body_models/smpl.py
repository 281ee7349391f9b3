"""SMPL body model: ``smplx.SMPL`` fed from our own file loader, plus H36M-17, LSP-14, COCO-17, SPIN's
extra joints and named mesh points (face, feet, finger tips) for any joint set."""
import contextlib
import io
import os.path as osp
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import smplx
import torch
import torch.nn.functional as F
from mmpose.registry import MODELS
from smplx.lbs import transform_mat
from torch import Tensor, nn

from ...utils.finite_checks import finite_checks_deferred, non_finite
from ...utils.rotation import axis_angle_to_matrix
from .constants import (COCO17_BODY_FROM_SMPL, H36M_TO_LSP14, NUM_BETAS, NUM_SMPL_JOINTS,
                        SMPL_COCO_FACE_VERTEX_IDS)
from .joint_sets import SMPL_VERTEX_KEYPOINT_IDS, JointSetRegressor
from .smpl_io import load_h36m_regressor, load_joint_regressor, load_smpl_model_file


@MODELS.register_module()
class SMPLBodyModel(nn.Module):
    """SMPL (Loper et al. 2015) as a differentiable layer with the joint sets used for training/evaluation.

    The model file is read by :func:`load_smpl_model_file` (official chumpy ``.pkl`` without chumpy, or
    ``.npz``) and handed to ``smplx.SMPL`` as a ``data_struct``, so smplx never unpickles anything. All model
    arrays are non-persistent buffers: they follow ``.to(device)`` but are not written into checkpoints of the
    networks that own this module (the body model is an asset, not a learned weight).

    Args:
        model_path (str): Path to ``SMPL_NEUTRAL.pkl`` / ``.npz``.
        joint_regressor_h36m (str, optional): Path to SPIN's ``J_regressor_h36m.npy`` (17, V). When given,
            ``forward`` also returns ``joints_h36m``. Defaults to None.
        joint_regressor_extra (str, optional): Path to SPIN's ``J_regressor_extra.npy`` (9, V). When given
            and present, ``forward`` also returns ``joints_extra``; a missing file is not an error: the joints
            it regresses are reported (once, naming the file) when a joint set needs them. Defaults to None.
        face_vertex_ids (Sequence[int], optional): Vertex ids of the COCO nose, left eye, right eye, left ear,
            right ear. Defaults to the file's ``coco_face_vertex_ids`` key if present, else to the official
            SMPL ids (smplx ``vertex_ids['smplh']``).
        keypoint_vertex_ids (Sequence[int], optional): Vertex ids of the 21 mesh points of
            ``keypoint_conventions.VERTEX_KEYPOINTS`` (face, feet, finger tips). Defaults to the file's
            ``keypoint_vertex_ids`` key if present, else to the official SMPL ids.
        num_betas (int): Number of shape coefficients. Defaults to 10.
        check_finite (bool): Raise on NaN/Inf inputs (costs one device sync per call), except inside
            ``pmnet_plugin.utils.finite_checks.defer_finite_checks`` (``NaNGuardHook``'s training step,
            which reports them itself). Defaults to True.

    Note:
        - batch size: B
        - vertices: V (6890 for SMPL)
    """

    def __init__(self,
                 model_path: str,
                 joint_regressor_h36m: Optional[str] = None,
                 joint_regressor_extra: Optional[str] = None,
                 face_vertex_ids: Optional[Sequence[int]] = None,
                 keypoint_vertex_ids: Optional[Sequence[int]] = None,
                 num_betas: int = NUM_BETAS,
                 check_finite: bool = True) -> None:
        super().__init__()
        arrays = load_smpl_model_file(model_path)
        self.model_path = model_path
        self.check_finite = check_finite
        self.num_betas = num_betas
        self.is_synthetic = bool(np.asarray(arrays.get('pmnet_synthetic', False)).any())
        struct = smplx.utils.Struct(**arrays)
        # smplx prints a warning for every 10-component SMPL model; keep logs clean.
        with contextlib.redirect_stdout(io.StringIO()):
            self.smpl = smplx.SMPL(
                model_path, data_struct=struct, num_betas=num_betas, create_betas=False,
                create_global_orient=False, create_body_pose=False, create_transl=False)
        for module in self.smpl.modules():
            for name in list(module._buffers):
                module.register_buffer(name, module._buffers.pop(name), persistent=False)
        # Joints are linear in the shaped vertices: regress the template and the shape directions once.
        smpl = self.smpl
        shapedirs = smpl.shapedirs  # (V, 3, nb)
        self.register_buffer('J_template', smpl.J_regressor @ smpl.v_template, persistent=False)
        self.register_buffer(
            'J_shapedirs', torch.einsum('jv,vck->jck', smpl.J_regressor, shapedirs), persistent=False)
        self.register_buffer('lbs_weights_t', smpl.lbs_weights.T.contiguous(), persistent=False)
        self.use_posedirs = bool(smpl.posedirs.abs().max() > 0)
        self.parent_ids = [int(i) for i in smpl.parents.tolist()]  # host ints: no device sync per joint
        num_v = int(arrays['v_template'].shape[0])

        if face_vertex_ids is None:
            if 'coco_face_vertex_ids' in arrays:
                face_vertex_ids = np.asarray(arrays['coco_face_vertex_ids']).reshape(-1).tolist()
            else:
                face_vertex_ids = SMPL_COCO_FACE_VERTEX_IDS
        face_ids = torch.as_tensor(list(face_vertex_ids), dtype=torch.long)
        if face_ids.shape != (5, ) or face_ids.min() < 0 or face_ids.max() >= num_v:
            raise ValueError(f'face_vertex_ids must be 5 vertex ids in [0, {num_v}), got {face_vertex_ids}')
        self.register_buffer('face_vertex_ids', face_ids, persistent=False)
        self.register_buffer('coco_body_joint_ids', torch.as_tensor(COCO17_BODY_FROM_SMPL), persistent=False)

        self.has_h36m = joint_regressor_h36m is not None
        if self.has_h36m:
            reg = torch.from_numpy(load_h36m_regressor(joint_regressor_h36m, num_v))
            self.register_buffer('J_regressor_h36m', reg, persistent=False)
        self.register_buffer('h36m_to_lsp14', torch.as_tensor(H36M_TO_LSP14), persistent=False)

        self.missing_regressors: Dict[str, str] = {}
        self.has_extra = joint_regressor_extra is not None and osp.isfile(joint_regressor_extra)
        if self.has_extra:
            reg = load_joint_regressor(joint_regressor_extra, 'extra', 9, num_v)
            self.register_buffer('J_regressor_extra', torch.from_numpy(reg), persistent=False)
        elif joint_regressor_extra is not None:
            self.missing_regressors['extra'] = f'{joint_regressor_extra!r} does not exist'
        if keypoint_vertex_ids is None:
            keypoint_vertex_ids = (np.asarray(arrays['keypoint_vertex_ids']).reshape(-1).tolist()
                                   if 'keypoint_vertex_ids' in arrays else SMPL_VERTEX_KEYPOINT_IDS)
        keypoint_ids = torch.as_tensor(list(keypoint_vertex_ids), dtype=torch.long)
        if keypoint_ids.shape != (21, ) or keypoint_ids.min() < 0 or keypoint_ids.max() >= num_v:
            raise ValueError(f'keypoint_vertex_ids must be 21 vertex ids in [0, {num_v}), got '
                             f'{keypoint_vertex_ids}')
        self.register_buffer('keypoint_vertex_ids', keypoint_ids, persistent=False)
        self._joint_sets = nn.ModuleDict()
        self._register_point_subset()

    def _register_point_subset(self) -> None:
        """Buffers to skin only the U vertices the regressed points need (``forward(vertices=False)``).

        Those points (H36M and extra joints, COCO face and vertex keypoints) are linear in the posed
        vertices, so skinning the vertices their regressors touch gives them exactly.
        """
        smpl, num_v = self.smpl, self.num_vertices
        rows = [self.J_regressor_h36m] if self.has_h36m else []
        rows += [self.J_regressor_extra] if self.has_extra else []
        used = torch.cat([self.face_vertex_ids, self.keypoint_vertex_ids]
                         + [torch.nonzero(r.abs().sum(0) > 0).reshape(-1) for r in rows]).unique()
        pos = torch.full((num_v, ), -1, dtype=torch.long)
        pos[used] = torch.arange(len(used))
        self.register_buffer('sub_vertex_ids', used, persistent=False)
        self.register_buffer('sub_face', pos[self.face_vertex_ids], persistent=False)
        self.register_buffer('sub_keypoint', pos[self.keypoint_vertex_ids], persistent=False)
        if self.has_h36m:
            self.register_buffer('sub_reg_h36m', self.J_regressor_h36m[:, used].contiguous(), persistent=False)
        if self.has_extra:
            self.register_buffer('sub_reg_extra', self.J_regressor_extra[:, used].contiguous(), persistent=False)
        self.register_buffer('sub_v_template', smpl.v_template[used].contiguous(), persistent=False)
        self.register_buffer('sub_shapedirs', smpl.shapedirs[used].contiguous(), persistent=False)
        self.register_buffer('sub_lbs_weights_t', self.lbs_weights_t[:, used].contiguous(), persistent=False)
        posedirs = smpl.posedirs.reshape(smpl.posedirs.shape[0], num_v, 3)[:, used]
        self.register_buffer('sub_posedirs', posedirs.reshape(posedirs.shape[0], -1).contiguous(),
                             persistent=False)

    @property
    def faces(self) -> np.ndarray:
        """np.ndarray: Triangle vertex ids, shape (F, 3), int64."""
        return np.asarray(self.smpl.faces, dtype=np.int64)

    @property
    def num_vertices(self) -> int:
        """int: Number of mesh vertices V."""
        return int(self.smpl.v_template.shape[0])

    def joint_set_regressor(self, joint_set: str) -> JointSetRegressor:
        """The (cached) :class:`JointSetRegressor` of ``joint_set`` for this model's regressors."""
        if joint_set not in self._joint_sets:
            hints = {k: f'the configured file {v}' for k, v in self.missing_regressors.items()}
            module = JointSetRegressor(joint_set, self.has_extra, self.has_h36m, hints)
            self._joint_sets[joint_set] = module.to(self.J_template.device)
        return self._joint_sets[joint_set]

    def regress_joint_set(self, body: Dict[str, Tensor], joint_set: str) -> Tuple[Tensor, Tensor]:
        """Joints of ``joint_set`` from a :meth:`forward` output.

        Args:
            body (dict): Output of :meth:`forward`.
            joint_set (str): Keypoint convention name.

        Returns:
            tuple: joints (B, J, 3) and ``available`` (J,) (0 for joints without a source).
        """
        reg = self.joint_set_regressor(joint_set)
        return reg(body), reg.available

    def joints_lsp14(self, joints_h36m: Tensor) -> Tensor:
        """Selects the 14 LSP joints (SPIN's ``H36M_TO_J14``) from H36M-17 joints.

        Args:
            joints_h36m (Tensor): Shape (B, 17, 3).

        Returns:
            Tensor: Shape (B, 14, 3).
        """
        if joints_h36m.shape[-2:] != (17, 3):
            raise ValueError(f'joints_lsp14: expected (B, 17, 3), got {tuple(joints_h36m.shape)}')
        return joints_h36m.index_select(-2, self.h36m_to_lsp14)

    def _to_rotmats(self, x: Tensor, num: int, name: str) -> Tensor:
        """(B, num, 3, 3) rotation matrices from rotmats or axis-angle inputs."""
        if not torch.is_tensor(x):
            raise TypeError(f'{name} must be a torch.Tensor, got {type(x).__name__}')
        if not x.is_floating_point():
            raise TypeError(f'{name} must be a floating point tensor, got {x.dtype}')
        x = x.to(self.smpl.v_template.dtype)
        b = x.shape[0] if x.dim() else 0
        if x.shape[1:] == (num, 3, 3) or (num == 1 and x.shape[1:] == (3, 3)):
            return x.reshape(b, num, 3, 3)
        if x.shape[1:] == (num * 3, ) or x.shape[1:] == (num, 3):
            return axis_angle_to_matrix(x.reshape(b, num, 3))
        raise ValueError(f'{name}: expected ({"B, 1" if num == 1 else f"B, {num}"}, 3, 3) rotation matrices or '
                         f'(B, {num * 3}) / (B, {num}, 3) axis-angle, got {tuple(x.shape)}')

    def _lbs(self, betas: Tensor, rotmats: Tensor, subset: bool = False) -> Tuple[Tensor, Tensor]:
        """Linear blend skinning, numerically identical to ``smplx.lbs.lbs`` with ``pose2rot=False``.

        Faster on CPU than smplx's version: joints come from pre-regressed shape directions, the pose
        blend shapes are skipped when the model has none, and the per-vertex 4x4 products are elementwise.

        Args:
            betas (Tensor): Shape (B, nb).
            rotmats (Tensor): Local joint rotations, shape (B, 24, 3, 3).
            subset (bool): Skin only the U vertices of :meth:`_register_point_subset`. Defaults to False.

        Returns:
            tuple[Tensor, Tensor]: Vertices TRANSPOSED (B, 3, V) (or (B, 3, U)) and posed SMPL joints
            (B, 24, 3).
        """
        smpl = self.smpl
        batch = betas.shape[0]
        template, shapedirs, posedirs, weights_t = (
            (self.sub_v_template, self.sub_shapedirs, self.sub_posedirs, self.sub_lbs_weights_t) if subset
            else (smpl.v_template, smpl.shapedirs, smpl.posedirs, self.lbs_weights_t))
        num_v = template.shape[0]
        v_posed = template + (betas @ shapedirs.reshape(num_v * 3, -1).T).view(batch, num_v, 3)
        joints = self._rest_joints(betas)
        if self.use_posedirs:
            eye = torch.eye(3, dtype=rotmats.dtype, device=rotmats.device)
            feat = (rotmats[:, 1:] - eye).reshape(batch, -1)
            v_posed = v_posed + (feat @ posedirs).view(batch, num_v, 3)
        posed_joints, rel = self._rigid_transform(rotmats, joints)
        # Blend the (3, 4) rows of the joint transforms per vertex with one matrix product, keeping the
        # vertex axis last (contiguous) for the elementwise part: (B * 12, 24) @ (24, V) -> (B, 3, 4, V).
        rows = rel[:, :, :3, :].reshape(batch, NUM_SMPL_JOINTS, 12).transpose(1, 2)
        blend = (rows.reshape(batch * 12, NUM_SMPL_JOINTS) @ weights_t).view(batch, 3, 4, num_v)
        v_t = v_posed.transpose(1, 2).contiguous()  # (B, 3, V)
        vertices_t = (blend[:, :, :3] * v_t[:, None]).sum(2) + blend[:, :, 3]  # (B, 3, V)
        return vertices_t, posed_joints

    def _rigid_transform(self, rotmats: Tensor, joints: Tensor) -> Tuple[Tensor, Tensor]:
        """``smplx.lbs.batch_rigid_transform`` with the parents as host integers.

        smplx indexes its chain list with elements of the parents tensor, one device sync per joint.

        Args:
            rotmats (Tensor): Local joint rotations, shape (B, 24, 3, 3).
            joints (Tensor): Rest joints, shape (B, 24, 3).

        Returns:
            tuple[Tensor, Tensor]: Posed joints (B, 24, 3) and transforms relative to the rest joints
            (B, 24, 4, 4).
        """
        joints = joints.unsqueeze(-1)
        rel_joints = joints.clone()
        rel_joints[:, 1:] -= joints[:, self.smpl.parents[1:]]
        mats = transform_mat(rotmats.reshape(-1, 3, 3), rel_joints.reshape(-1, 3, 1))
        mats = mats.reshape(-1, joints.shape[1], 4, 4)
        chain = [mats[:, 0]]
        for i in range(1, len(self.parent_ids)):
            chain.append(torch.matmul(chain[self.parent_ids[i]], mats[:, i]))
        transforms = torch.stack(chain, dim=1)
        rel = transforms - F.pad(torch.matmul(transforms, F.pad(joints, [0, 0, 0, 1])), [3, 0, 0, 0, 0, 0, 0, 0])
        return transforms[:, :, :3, 3], rel

    def _rest_joints(self, betas: Tensor) -> Tensor:
        """Joints of the shaped body at rest (B, 24, 3), from the pre-regressed shape directions."""
        return self.J_template + torch.einsum('bk,jck->bjc', betas, self.J_shapedirs)

    def forward(self,
                betas: Tensor,
                body_pose: Tensor,
                global_orient: Tensor,
                transl: Optional[Tensor] = None,
                vertices: bool = True,
                regressed: bool = True) -> Dict[str, Tensor]:
        """Poses and shapes the mesh.

        Args:
            betas (Tensor): Shape coefficients, shape (B, 10).
            body_pose (Tensor): Rotation matrices (B, 23, 3, 3) or axis-angle (B, 69) / (B, 23, 3).
            global_orient (Tensor): Rotation matrices (B, 1, 3, 3) / (B, 3, 3) or axis-angle (B, 3).
            transl (Tensor, optional): Translation added to every output point, shape (B, 3).
            vertices (bool): Return the mesh. Without it the regressed points come from the U vertices
                their regressors use (same values, less work). Defaults to True.
            regressed (bool): Return the points regressed from the mesh (all but ``joints``). Defaults
                to True. With both off only the kinematic chain runs.

        Returns:
            dict: ``joints`` (B, 24, 3) SMPL joints; ``vertices`` (B, V, 3) when asked; when
            ``regressed``: ``keypoints_coco`` (B, 17, 3), ``vertex_keypoints`` (B, 21, 3) (the mesh points
            of ``keypoint_vertex_ids``), ``joints_h36m`` (B, 17, 3) when an H36M regressor was given,
            ``joints_extra`` (B, 9, 3) when an extra regressor was loaded.
        """
        rot_body = self._to_rotmats(body_pose, NUM_SMPL_JOINTS - 1, 'body_pose')
        rot_root = self._to_rotmats(global_orient, 1, 'global_orient')
        if not torch.is_tensor(betas) or not betas.is_floating_point():
            raise TypeError(f'betas must be a floating point tensor, got {getattr(betas, "dtype", type(betas))}')
        if betas.dim() != 2 or betas.shape[1] != self.num_betas:
            raise ValueError(f'betas: expected (B, {self.num_betas}), got {tuple(betas.shape)}')
        betas = betas.to(rot_body.dtype)
        batch = betas.shape[0]
        if rot_body.shape[0] != batch or rot_root.shape[0] != batch:
            raise ValueError(f'batch sizes differ: betas {batch}, body_pose {rot_body.shape[0]}, '
                             f'global_orient {rot_root.shape[0]}')
        if transl is not None:
            if transl.shape != (batch, 3):
                raise ValueError(f'transl: expected ({batch}, 3), got {tuple(transl.shape)}')
            transl = transl.to(rot_body.dtype)
        if self.check_finite and not finite_checks_deferred():  # else NaNGuardHook reports them
            bad = non_finite([(n, t) for n, t in (('betas', betas), ('body_pose', rot_body),
                                                  ('global_orient', rot_root), ('transl', transl)) if t is not None])
            if bad:
                raise ValueError(f'SMPLBodyModel: {bad[0]} contains NaN or Inf values')

        rotmats = torch.cat([rot_root, rot_body], dim=1)
        if not vertices and not regressed:
            joints = self._rigid_transform(rotmats, self._rest_joints(betas))[0]  # the chain alone
            return dict(joints=joints if transl is None else joints + transl[:, None])
        points_t, joints = self._lbs(betas, rotmats, subset=not vertices)
        if transl is not None:
            points_t = points_t + transl[:, :, None]
            joints = joints + transl[:, None]
        result = dict(joints=joints)
        if vertices:
            result['vertices'] = points_t.transpose(1, 2).contiguous()
        if not regressed:
            return result
        face_ids, keypoint_ids = ((self.face_vertex_ids, self.keypoint_vertex_ids) if vertices
                                  else (self.sub_face, self.sub_keypoint))
        face = points_t.index_select(2, face_ids).transpose(1, 2)
        body = joints.index_select(1, self.coco_body_joint_ids)
        result['keypoints_coco'] = torch.cat([face, body], dim=1)
        result['vertex_keypoints'] = points_t.index_select(2, keypoint_ids).transpose(1, 2)
        flat = points_t.reshape(batch * 3, -1)
        for name, full, sub in (('joints_h36m', 'J_regressor_h36m', 'sub_reg_h36m'),
                                ('joints_extra', 'J_regressor_extra', 'sub_reg_extra')):
            if hasattr(self, sub):
                reg_t = getattr(self, full if vertices else sub).to(flat.dtype).T
                result[name] = (flat @ reg_t).view(batch, 3, -1).transpose(1, 2)
        return result

    def extra_repr(self) -> str:
        return (f'model_path={self.model_path!r}, num_vertices={self.num_vertices}, '
                f'h36m={self.has_h36m}, extra={self.has_extra}, synthetic={self.is_synthetic}')
