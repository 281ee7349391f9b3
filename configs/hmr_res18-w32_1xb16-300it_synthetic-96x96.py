# HMR baseline (SPIN-style regressor from the mean pose),
# half-width ResNet-18 from scratch on the synthetic dataset, 96x96 input.
# Differs from the PM-Net config of the same name (pmnet_*) only in `model.head`.
_base_ = ['./_base_/mesh_res18_synthetic.py']

model = dict(head=dict(type='HMRHead'))
