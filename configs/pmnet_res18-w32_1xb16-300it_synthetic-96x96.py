# PM-Net (Rong, Liu, Loy): the image selects one of K pose prototypes as the starting point of the
# iterative regressor, half-width ResNet-18 from scratch on the synthetic dataset, 96x96 input.
# Differs from the HMR config of the same name (hmr_*) only in `model.head`.
_base_ = ['./_base_/mesh_res18_synthetic.py']

model = dict(
    head=dict(type='PrototypeMemoryHead', prototype_file={{_base_.prototype_file}}, num_prototypes=32,
              init_mode='top1', assign_space='joints', assign_mode='soft', assign_temperature=0.01))
