"""Horizontal flip of the image together with 2D/3D joints of any joint set and the SMPL pose."""
from typing import Dict, Optional

import numpy as np
from mmpose.datasets.transforms import RandomFlip
from mmpose.registry import TRANSFORMS

from ...models.body_models.constants import SMPL_FLIP_INDICES

_FLIP_SIGN = np.array([1., -1., -1.], np.float32)


def flip_smpl_pose(pose):
    """Mirror SMPL poses left/right (SPIN's ``flip_pose``).

    Swapping left and right joints and reflecting each rotation through the x = 0 plane
    (R -> M R M with M = diag(-1, 1, 1)) keeps the axis-angle x component and negates y and z.

    Args:
        pose (np.ndarray | Tensor): Axis-angle poses, shape (..., 72) (global orient first).

    Returns:
        Same type as ``pose``: the mirrored poses, shape (..., 72).
    """
    lead = tuple(pose.shape[:-1])
    joints = pose.reshape(lead + (24, 3))[..., SMPL_FLIP_INDICES, :]
    sign = _FLIP_SIGN if isinstance(pose, np.ndarray) else pose.new_tensor(_FLIP_SIGN)
    return (joints * sign).reshape(lead + (72, ))


def flip_keypoints_3d(keypoints_3d: np.ndarray,
                      visible: Optional[np.ndarray] = None,
                      flip_indices=SMPL_FLIP_INDICES):
    """Mirror camera-frame 3D joints: swap left/right and negate x.

    Args:
        keypoints_3d (np.ndarray): Shape (..., J, 3).
        visible (np.ndarray, optional): Shape (..., J).
        flip_indices (list[int]): Mirror partner of each joint.

    Returns:
        tuple: flipped ``keypoints_3d`` (..., J, 3) and ``visible`` (..., J) (or None).
    """
    out = keypoints_3d[..., flip_indices, :] * np.array([-1., 1., 1.], keypoints_3d.dtype)
    return out, None if visible is None else visible[..., flip_indices]


@TRANSFORMS.register_module()
class SMPLRandomFlip(RandomFlip):
    """MMPose ``RandomFlip`` (horizontal only) that also mirrors 3D joints and SMPL pose.

    Joints are mirrored with the dataset's ``flip_indices`` (left/right partners of its joint set).

    Required Keys: img, img_shape, flip_indices, bbox/bbox_center/keypoints (optional),
    keypoints_3d, keypoints_3d_visible, keypoints_3d_root, smpl_pose (optional).

    Modified Keys: img, bbox, bbox_center, keypoints, keypoints_visible, keypoints_3d,
    keypoints_3d_visible, keypoints_3d_root, smpl_pose.

    Added Keys: flip, flip_direction.

    Args:
        prob (float): Flip probability. Defaults to 0.5.
    """

    def __init__(self, prob: float = 0.5) -> None:
        super().__init__(prob=float(prob), direction='horizontal')

    def transform(self, results: Dict) -> Dict:
        """Flip image and 2D labels (MMPose), then 3D joints and SMPL pose."""
        results = super().transform(results)
        if not results['flip']:
            return results
        flip_indices = results.get('flip_indices', SMPL_FLIP_INDICES)
        if results.get('keypoints_3d') is not None:
            results['keypoints_3d'], vis = flip_keypoints_3d(
                results['keypoints_3d'], results.get('keypoints_3d_visible'), flip_indices)
            if vis is not None:
                results['keypoints_3d_visible'] = vis
        if results.get('keypoints_3d_root') is not None:
            results['keypoints_3d_root'] = results['keypoints_3d_root'][..., flip_indices]
        if results.get('smpl_pose') is not None:
            results['smpl_pose'] = flip_smpl_pose(results['smpl_pose'])
        return results
