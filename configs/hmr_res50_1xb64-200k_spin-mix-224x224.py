# HMR baseline (SPIN-style regressor from the mean pose), ResNet-50 (ImageNet) on the SPIN mix, 224x224 input.
# Differs from the PM-Net config of the same name (pmnet_*) only in `model.head`.
_base_ = ['./_base_/mesh_res50_spin_mix.py']

model = dict(head=dict(type='HMRHead'))
