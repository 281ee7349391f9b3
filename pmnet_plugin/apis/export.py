"""Files for animation and 3D tools: a track as a BVH animation (``bvhio``), a mesh as a GLB (``trimesh``).

Both are written in a Y-up frame, the convention of BVH players, Blender and glTF: camera coordinates
(x right, y down, z forward) turn by 180 degrees about x, ``(x, y, z) -> (x, -y, -z)``, so that a glTF
camera at the origin looking down -z sees what the image shows. Lengths are metres.

The BVH skeleton is SMPL's 24 joints: the rest offsets are the joints of the body model at the track's
betas (their mean over the track), each frame holds the 24 local joint rotations and the root position
(pelvis + camera translation), so that forward kinematics of the file gives the body model's posed joints.

Note:
    - frames of a track: T
    - SMPL joints: 24, vertices: V, faces: F
"""
from typing import Dict, Optional

import numpy as np
import torch

from pmnet_plugin.models.body_models.constants import SMPL_JOINT_NAMES, SMPL_PARENTS
from pmnet_plugin.utils.rotation import axis_angle_to_matrix

__all__ = ['CAMERA_TO_Y_UP', 'find_body_model', 'posed_joints', 'write_bvh', 'write_glb', 'finish_track', 'write_track']

# camera frame (y down, z forward) -> Y-up frame (y up, z towards the viewer): 180 degrees about x
CAMERA_TO_Y_UP = np.diag([1.0, -1.0, -1.0])
_ROT_CHANNELS = ['Zrotation', 'Xrotation', 'Yrotation']


def find_body_model(model) -> torch.nn.Module:
    """The SMPL body model of a mesh estimator: its ``head.body_model``, or built from its config.

    Args:
        model (nn.Module): An estimator built by :func:`~pmnet_plugin.apis.init_mesh_model`, or an ONNX
            Runtime model (:func:`~pmnet_plugin.apis.init_onnx_model`, which holds ``cfg`` only).

    Returns:
        SMPLBodyModel: In eval mode.
    """
    from mmpose.registry import MODELS

    from pmnet_plugin.models.body_models import SMPLBodyModel
    for module in (model.modules() if hasattr(model, 'modules') else []):
        if isinstance(module, SMPLBodyModel):
            return module
    return MODELS.build(model.cfg.model.head.body_model).eval()


def posed_joints(body_model, smpl_pose: np.ndarray, betas: np.ndarray,
                 transl: Optional[np.ndarray] = None) -> Dict[str, np.ndarray]:
    """Rest and posed SMPL joints of one body shape in a sequence of poses.

    Args:
        body_model (SMPLBodyModel): The body model.
        smpl_pose (np.ndarray): (T, 72) axis-angle, camera frame.
        betas (np.ndarray): (10,) shape of the whole sequence, or (T, 10) one per frame.
        transl (np.ndarray, optional): (T, 3) camera translation.

    Returns:
        dict: ``rest`` (24, 3) joints at rest (at the first frame's betas), ``joints`` (T, 24, 3) posed
        joints (+ ``transl``), metres.
    """
    num = len(smpl_pose)
    dtype = body_model.smpl.v_template.dtype
    pose = torch.as_tensor(np.asarray(smpl_pose), dtype=dtype).reshape(num, 24, 3)
    shape = torch.as_tensor(np.asarray(betas), dtype=dtype).reshape(-1, np.shape(betas)[-1]).expand(num, -1)
    shift = None if transl is None else torch.as_tensor(np.asarray(transl), dtype=dtype).reshape(num, 3)
    with torch.no_grad():
        out = body_model(betas=shape, body_pose=pose[:, 1:], global_orient=pose[:, 0], transl=shift,
                         vertices=False, regressed=False)
        rest = body_model._rest_joints(shape[:1])[0]
    return dict(rest=rest.double().numpy(), joints=out['joints'][:, :24].double().numpy())


def write_bvh(path: str, smpl_pose: np.ndarray, betas: np.ndarray, body_model,
              transl: Optional[np.ndarray] = None, fps: float = 30.0) -> Dict[str, np.ndarray]:
    """Writes one track as a BVH animation of SMPL's 24-joint skeleton (``bvhio.writeBvh``).

    Args:
        path (str): The ``.bvh`` file.
        smpl_pose (np.ndarray): (T, 72) axis-angle per frame, camera frame.
        betas (np.ndarray): (10,) body shape of the track (e.g. the mean of its predictions).
        body_model (SMPLBodyModel): Gives the rest joints at ``betas``.
        transl (np.ndarray, optional): (T, 3) camera translation per frame (``cam_t_full``); zeros if None.
        fps (float): Frames per second. Defaults to 30.

    Returns:
        dict: ``rest`` (24, 3) and ``joints`` (T, 24, 3), the body model's joints in the file's Y-up frame
        (what forward kinematics of the file gives back).
    """
    import bvhio
    import glm
    from SpatialTransform import Pose

    num = len(smpl_pose)
    transl = np.zeros((num, 3)) if transl is None else np.asarray(transl, np.float64).reshape(num, 3)
    body = posed_joints(body_model, smpl_pose, betas, transl)
    rest = body['rest']
    rot = axis_angle_to_matrix(torch.as_tensor(np.asarray(smpl_pose, np.float64)).reshape(num, 24, 3)).numpy()
    rot[:, 0] = CAMERA_TO_Y_UP @ rot[:, 0]  # the root turns with the frame; local rotations do not change
    quats = _matrix_to_wxyz(rot)
    root_pos = (rest[0] + transl) @ CAMERA_TO_Y_UP.T

    joints = []
    for j, name in enumerate(SMPL_JOINT_NAMES[:24]):
        parent = SMPL_PARENTS[j]
        joint = bvhio.BvhJoint(name, glm.vec3(*(rest[j] - rest[parent] if parent >= 0 else rest[j])))
        joint.Channels = (['Xposition', 'Yposition', 'Zposition'] if parent < 0 else []) + _ROT_CHANNELS
        joint.Keyframes = [
            Pose(glm.vec3(*(root_pos[t] if parent < 0 else joint.Offset)), glm.quat(*quats[t, j]))
            for t in range(num)]
        if parent >= 0:
            joints[parent].Children.append(joint)
        joints.append(joint)
    for j, joint in enumerate(joints):  # leaves (head, hands, feet) end a quarter bone further on
        if not joint.Children:
            joint.EndSite = glm.vec3(*(0.25 * (rest[j] - rest[SMPL_PARENTS[j]])))
    bvhio.writeBvh(path, bvhio.BvhContainer(joints[0], num, 1.0 / fps), percision=9)
    return dict(rest=rest, joints=body['joints'] @ CAMERA_TO_Y_UP.T)


def _matrix_to_wxyz(mats: np.ndarray) -> np.ndarray:
    """(..., 3, 3) rotation matrices -> (..., 4) unit quaternions ``w, x, y, z``."""
    from scipy.spatial.transform import Rotation
    xyzw = Rotation.from_matrix(mats.reshape(-1, 3, 3)).as_quat()
    return xyzw[:, [3, 0, 1, 2]].reshape(mats.shape[:-2] + (4, ))


def write_glb(path: str, vertices: np.ndarray, faces: np.ndarray) -> None:
    """Writes one mesh as a binary glTF (``trimesh``), in the Y-up frame of the module docstring.

    Args:
        path (str): The ``.glb`` file.
        vertices (np.ndarray): (V, 3) camera-frame vertices, metres (add ``cam_t_full`` to place the body
            in the image's camera).
        faces (np.ndarray): (F, 3) 0-based triangles.
    """
    import trimesh
    mesh = trimesh.Trimesh(np.asarray(vertices, np.float64) @ CAMERA_TO_Y_UP.T, np.asarray(faces),
                           process=False)
    with open(path, 'wb') as f:
        f.write(mesh.export(file_type='glb'))


def finish_track(track: Dict[str, np.ndarray], body_model, fps: float = 30.0,
                 smooth: Optional[dict] = None) -> Dict[str, np.ndarray]:
    """One track's arrays as written to its file: optionally smoothed, with the posed joints.

    Args:
        track (dict): A :class:`~.tracking.TrackRecorder` track: ``frame`` (T,), ``smpl_pose`` (T, 72),
            ``smpl_betas`` (T, 10), ``cam_t_full`` (T, 3), ``bboxes`` (T, 5).
        body_model (SMPLBodyModel): Poses the joints of the final parameters.
        fps (float): Frames per second of the video. Defaults to 30.
        smooth (dict, optional): One-Euro arguments of :func:`~.smoothing.smooth_smpl_track`
            (``min_cutoff``, ``beta``, ``d_cutoff``); None keeps the raw predictions.

    Returns:
        dict: The track's arrays (smoothed when asked, the raw ones then kept as ``*_raw``), ``joints``
        (T, 24, 3) the posed SMPL joints plus ``cam_t_full`` (camera frame, metres) and ``fps``.
    """
    from .smoothing import smooth_smpl_track
    out = dict(track)
    if smooth is not None:
        out = smooth_smpl_track(track, fps=fps, **smooth)
        out.update({f'{k}_raw': track[k] for k in ('smpl_pose', 'smpl_betas', 'cam_t_full') if k in track})
    joints = posed_joints(body_model, out['smpl_pose'], out['smpl_betas'], out.get('cam_t_full', None))
    out['joints'] = joints['joints'].astype(np.float32)
    out['fps'] = np.float32(fps)
    return out


def write_track(base: str, track: Dict[str, np.ndarray], body_model, fps: float = 30.0,
                smooth: Optional[dict] = None, bvh: bool = False) -> Dict[str, np.ndarray]:
    """Writes one track to ``<base>.npz`` (:func:`finish_track`) and, with ``bvh``, ``<base>.bvh``.

    Each file is written to a temporary name and renamed (:func:`~pmnet_plugin.utils.atomic_io.atomic_write`).

    Args:
        base (str): Output path without extension, e.g. ``out/video_track0``.
        track, body_model, fps, smooth: As in :func:`finish_track`.
        bvh (bool): Also write the animation (:func:`write_bvh`, the track's mean betas). Defaults to False.

    Returns:
        dict: The arrays of ``<base>.npz``.
    """
    from pmnet_plugin.utils.atomic_io import atomic_write
    out = finish_track(track, body_model, fps, smooth)

    def save_npz(tmp: str) -> None:
        with open(tmp, 'wb') as f:
            np.savez(f, **out)

    atomic_write(base + '.npz', save_npz)
    if bvh:
        atomic_write(base + '.bvh', lambda tmp: write_bvh(
            tmp, out['smpl_pose'], out['smpl_betas'].mean(0), body_model, out.get('cam_t_full', None), fps))
    return out
