# PM-Net (Rong, Liu, Loy): the image selects one of K pose prototypes as the starting point of the
# iterative regressor, ResNet-50 (ImageNet) on the SPIN mix, 224x224 input.
# Differs from the HMR config of the same name (hmr_*) only in `model.head`.
_base_ = ['./_base_/mesh_res50_spin_mix.py']

model = dict(
    head=dict(type='PrototypeMemoryHead', prototype_file={{_base_.prototype_file}}, num_prototypes=32,
              init_mode='top1', assign_space='joints', assign_mode='soft', assign_temperature=0.01))
