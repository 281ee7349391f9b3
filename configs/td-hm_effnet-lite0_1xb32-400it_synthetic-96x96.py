# The offline 2D keypoint stage: MMPose's TopdownPoseEstimator + HeatmapHead (MSRAHeatmap) on the rendered
# long-tail dataset (data/synthetic/{train,test}.npz) with the 24 SMPL joints as keypoints, evaluated with MMPose's
# PCKAccuracy and EPE. Its backbone is the mesh configs' EfficientNet-Lite0 (same out_indices and frozen stages)
# and its heatmap layers have the shapes of KeypointHeatmapNeck's heatmap branch, so one checkpoint starts both
# heads: configs/_base_/mesh_effnet_synthetic.py, model.init_cfg.checkpoint (docs/configs.md).
_base_ = ['mmpose::_base_/default_runtime.py']

custom_imports = dict(imports=['pmnet_plugin'], allow_failed_imports=False)
default_scope = 'mmpose'

data_root = 'data/synthetic'
# 96 px crops as the mesh configs; the stride-16 map upsampled once gives the mesh neck's 12 x 12 heatmaps.
# sigma 1 heatmap px = 8 input px, COCO's 2 px at stride 4; unbiased (DARK) encoding puts the Gaussian at the
# sub-pixel joint location (a rounded centre would be off by up to 4 input px at stride 8); the DARK blur
# kernel follows sigma = 0.3 * ((k - 1) / 2 - 1) + 0.8.
codec = dict(type='MSRAHeatmap', input_size=(96, 96), heatmap_size=(12, 12), sigma=1.0, unbiased=True,
             blur_kernel_size=5)

# ---------------------------------------------------------------- schedule
max_iters = 400
train_cfg = dict(by_epoch=False, max_iters=max_iters, val_interval=max_iters)
val_cfg = dict()
test_cfg = dict()
# the mesh configs' optimiser: pretrained backbone at 0.2x the head's learning rate
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3, weight_decay=0.),
                     paramwise_cfg=dict(custom_keys={'backbone': dict(lr_mult=0.2)}))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50),
    dict(type='CosineAnnealingLR', T_max=max_iters, eta_min=1e-5, by_epoch=False, begin=0, end=max_iters),
]
auto_scale_lr = dict(base_batch_size=32)

# ---------------------------------------------------------------- runtime
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=25),
    checkpoint=dict(_delete_=True, type='AtomicCheckpointHook', interval=max_iters, by_epoch=False,
                    max_keep_ckpts=1),
    visualization=dict(type='PoseVisualizationHook', enable=False))
custom_hooks = [dict(type='SyncBuffersHook'), dict(type='NaNGuardHook')]
log_processor = dict(type='LogProcessor', window_size=25, by_epoch=False, num_digits=6)
# MMPose's PoseLocalVisualizer imports torchvision (absent here); ours draws the same keypoints
visualizer = dict(_delete_=True, type='MeshVisualizer', name='visualizer', side_view=False,
                  vis_backends=[dict(type='LocalVisBackend')])
env_cfg = dict(dist_cfg=dict(backend='gloo'))

# ---------------------------------------------------------------- model
num_keypoints = 24
model = dict(
    type='TopdownPoseEstimator',
    data_preprocessor=dict(type='PoseDataPreprocessor', mean=[127.5] * 3, std=[127.5] * 3, bgr_to_rgb=True),
    # ImageNet init from the PyPI wheel, as configs/_base_/mesh_effnet_synthetic.py
    backbone=dict(type='EfficientNetLite', out_indices=(4, 7), frozen_stages=3),
    # the heatmaps come from the stride-16 map (112 channels), as in KeypointHeatmapNeck
    neck=dict(type='FeatureMapProcessor', select_index=0),
    head=dict(type='HeatmapHead', in_channels=112, out_channels=num_keypoints, deconv_out_channels=(64, ),
              deconv_kernel_sizes=(4, ), final_layer=dict(kernel_size=1),
              loss=dict(type='KeypointMSELoss', use_target_weight=True), decoder=codec),
    # no flip test: the body's suit has different left and right colours (docs/experiments/learning_log.md)
    test_cfg=dict(flip_test=False))

# ---------------------------------------------------------------- data
# the mesh configs' augmentation (no flip, scale 0.8-1.2, rotation on 40 %, channel noise 0.1) with MMPose's
# own bbox transform (the SMPL variant only adds the SMPL orientation)
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale', padding=1.2),
    dict(type='RandomBBoxTransform', shift_factor=0., scale_factor=(0.8, 1.2), rotate_factor=30.,
         rotate_prob=0.4),
    dict(type='RandomChannelNoise', noise_factor=0.1),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs'),
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale', padding=1.2),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='PackPoseInputs'),
]
# MMEngine's pseudo_collate (the default): HeatmapHead reads its targets as tensors
train_dataloader = dict(
    batch_size=32,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(type='SMPLImageDataset', data_root=data_root, ann_file='train.npz', joint_set='smpl',
                 source_joint_set='smpl', data_prefix=dict(img='train/'), dataset_tag='synthetic',
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=32,
    num_workers=0,
    persistent_workers=False,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(type='SMPLImageDataset', data_root=data_root, ann_file='test.npz', joint_set='smpl',
                 source_joint_set='smpl', data_prefix=dict(img='test/'), dataset_tag='synthetic',
                 test_mode=True, pipeline=val_pipeline))
test_dataloader = val_dataloader

# PCK normalised by the person box (MMPose's default 0.05, and 0.1), end-point error in image px
val_evaluator = [
    dict(type='PCKAccuracy', thr=0.05, prefix='pck0.05'),
    dict(type='PCKAccuracy', thr=0.1, prefix='pck0.1'),
    dict(type='EPE', prefix='epe'),
]
test_evaluator = val_evaluator
