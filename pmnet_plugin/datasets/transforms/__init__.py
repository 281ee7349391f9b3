from .channel_noise import RandomChannelNoise
from .smpl_bbox_transform import (SMPLRandomBBoxTransform, camera_rotation_for_crop,
                                  rotate_smpl_global_orient)
from .smpl_flip import SMPLRandomFlip, flip_keypoints_3d, flip_smpl_pose

__all__ = [
    'RandomChannelNoise', 'SMPLRandomBBoxTransform', 'camera_rotation_for_crop',
    'rotate_smpl_global_orient', 'SMPLRandomFlip', 'flip_keypoints_3d', 'flip_smpl_pose'
]
