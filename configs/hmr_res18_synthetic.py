# HMR baseline (SPIN-style regressor from the mean pose) on the offline dataset, ResNet-18. Differs from
# pmnet_res18_synthetic.py only in `model.head`.
_base_ = ['./_base_/mesh_res18_synthetic.py']

model = dict(
    head=dict(
        type='HMRHead',
        in_channels={{_base_.backbone_channels}},
        body_model={{_base_.body_model}},
        mean_params={{_base_.mean_params}},
        num_iters=3,
        input_size={{_base_.codec.input_size}},
        loss=dict(type='MeshLoss'),
        rarity_file={{_base_.rarity_file}}))
