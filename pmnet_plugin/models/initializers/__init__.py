from .pretrained_pose2d import PretrainedPose2DInit

__all__ = ['PretrainedPose2DInit']
