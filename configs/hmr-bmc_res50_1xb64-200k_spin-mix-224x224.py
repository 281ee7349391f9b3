# HMR baseline trained with Balanced MSE (Ren et al., CVPR 2022; BMC form, learnable noise scale) on the
# root-relative 3D joints, ResNet-50 (ImageNet) on the SPIN mix, 224x224 input.
# Differs from the HMR config of the same name (hmr_*) only in `model.head.loss`; the noise scale is a
# parameter of the head's loss module, optimised with the head's learning rate (docs/experiments/learning_log.md).
_base_ = ['./hmr_res50_1xb64-200k_spin-mix-224x224.py']

model = dict(head=dict(loss=dict(keypoints_3d_loss=dict(type='BalancedMSELoss', init_noise_sigma=0.5))))
