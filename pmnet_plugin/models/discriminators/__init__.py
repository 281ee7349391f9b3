from .pose_discriminator import (SMPLPoseDiscriminator, adversarial_losses, discriminator_accuracy,
                                 lsgan_discriminator_loss, lsgan_encoder_loss)
from .real_pose_sampler import RealPoseSampler

__all__ = [
    'SMPLPoseDiscriminator', 'RealPoseSampler', 'lsgan_encoder_loss', 'lsgan_discriminator_loss',
    'discriminator_accuracy', 'adversarial_losses'
]
