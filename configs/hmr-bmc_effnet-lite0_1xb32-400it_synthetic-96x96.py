# HMR baseline trained with Balanced MSE (Ren et al., CVPR 2022; BMC form, learnable noise scale) on the
# root-relative 3D joints, EfficientNet-Lite0 (ImageNet) on the synthetic dataset, 96x96 input.
# Differs from the HMR config of the same name (hmr_*) only in `model.head.loss`; the noise scale is a
# parameter of the head's loss module, optimised with the head's learning rate (docs/experiments/learning_log.md).
_base_ = ['./hmr_effnet-lite0_1xb32-400it_synthetic-96x96.py']

model = dict(head=dict(loss=dict(keypoints_3d_loss=dict(type='BalancedMSELoss', init_noise_sigma=0.5))))
