# PM-Net (Rong, Liu, Loy): the image selects one of K pose prototypes as the starting point of the
# iterative regressor, on the offline dataset, EfficientNet-Lite0 (ImageNet). Differs from hmr_effnet_synthetic.py only in
# `model.head`.
_base_ = ['./_base_/mesh_effnet_synthetic.py']

model = dict(
    head=dict(
        type='PrototypeMemoryHead',
        in_channels={{_base_.backbone_channels}},
        body_model={{_base_.body_model}},
        mean_params={{_base_.mean_params}},
        num_iters=3,
        input_size={{_base_.codec.input_size}},
        loss=dict(type='MeshLoss'),
        rarity_file={{_base_.rarity_file}},
        prototype_file={{_base_.prototype_file}},
        num_prototypes=32,
        init_mode='top1'))
