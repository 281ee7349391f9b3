"""Random shift/scale/in-plane rotation of the crop, applied consistently to 3D joints and SMPL."""
from typing import Dict

import cv2
import numpy as np
from mmpose.datasets.transforms import RandomBBoxTransform
from mmpose.registry import TRANSFORMS


def camera_rotation_for_crop(rotation_deg: float) -> np.ndarray:
    """Camera-frame rotation matching a crop taken with MMPose ``get_warp_matrix(rot=rotation_deg)``.

    ``get_warp_matrix`` rotates image offsets by ``R2(-rot)`` (y down); in the camera frame (x right, y
    down, ``docs/design.md``) that is ``Rz(-rot)``, which commutes with the projection.

    Args:
        rotation_deg (float): ``bbox_rotation`` in degrees.

    Returns:
        np.ndarray: (3, 3) rotation matrix, float32.
    """
    a = np.deg2rad(-rotation_deg)
    c, s = np.cos(a), np.sin(a)
    return np.array([[c, -s, 0.], [s, c, 0.], [0., 0., 1.]], np.float32)


def rotate_smpl_global_orient(smpl_pose: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    """Left-multiply the global orientation (first 3 values) of SMPL poses by ``rotation``.

    Args:
        smpl_pose (np.ndarray): Axis-angle poses, shape (N, 72).
        rotation (np.ndarray): (3, 3) rotation in the camera frame.

    Returns:
        np.ndarray: Poses with rotated global orientation, shape (N, 72), float32.
    """
    pose = np.array(smpl_pose, np.float32, copy=True)
    rot = np.asarray(rotation, np.float64)
    for row in pose:  # one instance per top-down sample: no tensor set-up per call
        go = cv2.Rodrigues(row[:3].astype(np.float64))[0]
        row[:3] = cv2.Rodrigues(rot @ go)[0].reshape(3)
    return pose


def truncated_normal(size: tuple, low: float = -1., high: float = 1.) -> np.ndarray:
    """Standard normal samples truncated to [low, high], by rejection, from NumPy's global generator.

    The distribution of ``scipy.stats.truncnorm.rvs(low, high)`` that MMPose's ``RandomBBoxTransform``
    draws, at a fraction of its cost (``docs/experiments/benchmark_log.md``); seeded runs draw other values than scipy.

    Args:
        size (tuple): Output shape.
        low (float): Lower bound. Defaults to -1.
        high (float): Upper bound. Defaults to 1.

    Returns:
        np.ndarray: Samples of shape ``size``, float32.
    """
    out = np.random.standard_normal(size)
    bad = (out < low) | (out > high)
    while bad.any():
        out[bad] = np.random.standard_normal(int(bad.sum()))
        bad = (out < low) | (out > high)
    return out.astype(np.float32)


@TRANSFORMS.register_module()
class SMPLRandomBBoxTransform(RandomBBoxTransform):
    """MMPose ``RandomBBoxTransform`` that also rotates 3D joints and the SMPL global orientation.

    The crop shift/scale/rotation is sampled by MMPose (``bbox_rotation`` in degrees, applied to the image
    and 2D joints later by ``TopdownAffine``); here ``keypoints_3d`` and ``smpl_pose[:, :3]`` get the
    matching camera rotation :func:`camera_rotation_for_crop`. SPIN-like settings: ``shift_factor=0.,
    scale_factor=(0.75, 1.25), rotate_factor=30., rotate_prob=0.4`` (SPIN rotates 40% of samples).

    Required Keys: bbox_center, bbox_scale, keypoints_3d (optional), smpl_pose (optional).

    Modified Keys: bbox_center, bbox_scale, keypoints_3d, smpl_pose.

    Added Keys: bbox_rotation.

    Args:
        **kwargs: Arguments of :class:`mmpose.datasets.transforms.RandomBBoxTransform`.
    """

    _truncnorm = staticmethod(truncated_normal)

    def transform(self, results: Dict) -> Dict:
        """Sample the crop transform, then rotate the 3D labels to match."""
        results = super().transform(results)
        rot_deg = float(results['bbox_rotation'][0])
        if rot_deg == 0.:
            return results
        rot = camera_rotation_for_crop(rot_deg)
        if results.get('keypoints_3d') is not None:
            results['keypoints_3d'] = (results['keypoints_3d'] @ rot.T).astype(np.float32)
        if results.get('smpl_pose') is not None:
            results['smpl_pose'] = rotate_smpl_global_orient(results['smpl_pose'], rot)
        return results
