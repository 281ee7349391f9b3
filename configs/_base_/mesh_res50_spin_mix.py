# Everything but the head: ResNet-50 (ImageNet init) on SPIN's mix of real datasets, evaluated on 3DPW test.
# Leaf configs (`configs/{pmnet,hmr}_res50_1xb64-200k_spin-mix-224x224.py`) set the head type (and PM-Net's
# arguments) only. See docs/configs.md.
_base_ = ['mmpose::_base_/default_runtime.py']

custom_imports = dict(imports=['pmnet_plugin'], allow_failed_imports=False)
default_scope = 'mmpose'

# ---------------------------------------------------------------- files (docs/design.md default paths)
body_model = dict(type='SMPLBodyModel', model_path='data/body_models/smpl/SMPL_NEUTRAL.pkl',
                  joint_regressor_h36m='data/body_models/J_regressor_h36m.npy',
                  joint_regressor_extra='data/body_models/J_regressor_extra.npy')
# GT meshes of 3DPW from the gendered models, as published numbers are computed (docs/configs.md)
gendered_body_models = dict(male='data/body_models/smpl/SMPL_MALE.pkl',
                            female='data/body_models/smpl/SMPL_FEMALE.pkl')
mean_params = 'data/body_models/smpl_mean_params.npz'
prototype_file = 'data/prototypes/prototypes_k32.npz'
# training-pose rarity quantiles, written into the prototype file by tools/build_prototypes.py --body-model
# (both heads report each prediction's rarity percentile from them; docs/deploy.md)
rarity_file = prototype_file
data_root = 'data/'  # MMHuman3D layout: data/preprocessed_datasets/*.npz + data/datasets/<name>/ images
# Labels stay in their own joint definitions; 'human_data' (MMHuman3D's 190 names) holds all of them and
# the head regresses the same joints from the mesh (docs/datasets.md)
joint_set = 'human_data'
backbone_channels = 2048

# ---------------------------------------------------------------- schedule (SPIN: Adam 5e-5, batch 64)
# SPIN trains ~ until convergence; the paper does not give an iteration count: 200k iterations, our choice.
train_cfg = dict(by_epoch=False, max_iters=200_000, val_interval=10_000)
val_cfg = dict()
test_cfg = dict()
optim_wrapper = dict(optimizer=dict(type='Adam', lr=5e-5, weight_decay=0.))
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False, begin=0, end=200_000)]
auto_scale_lr = dict(base_batch_size=64)

# ---------------------------------------------------------------- runtime
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=50),
    checkpoint=dict(type='AtomicCheckpointHook', interval=10_000, by_epoch=False, max_keep_ckpts=3,
                    save_best='mesh/PA-MPJPE', rule='less'),
    # PoseVisualizationHook works with our MeshVisualizer (off unless tools/test.py --show-dir)
    visualization=dict(type='PoseVisualizationHook', enable=False))
custom_hooks = [dict(type='SyncBuffersHook'), dict(type='NaNGuardHook')]
log_processor = dict(type='LogProcessor', window_size=50, by_epoch=False, num_digits=6)
# MMPose's PoseLocalVisualizer imports torchvision, TensorboardVisBackend needs tensorboard: replace both
visualizer = dict(_delete_=True, type='MeshVisualizer', name='visualizer',
                  vis_backends=[dict(type='LocalVisBackend')],
                  smpl_model_path=body_model['model_path'])
env_cfg = dict(dist_cfg=dict(backend='nccl'))

# ---------------------------------------------------------------- model (the head type comes from the leaf config)
codec = dict(type='SMPLLabelCodec', input_size=(224, 224))
model = dict(
    type='TopdownMeshEstimator',
    data_preprocessor=dict(type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53],
                           std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
    backbone=dict(type='ResNet', depth=50,
                  init_cfg=dict(type='Pretrained', checkpoint='torchvision://resnet50')),
    neck=dict(type='GlobalAveragePooling'),
    # the arguments HMRHead and PrototypeMemoryHead share; a base that changes the feature width, the input
    # size or the files overrides them
    head=dict(in_channels=backbone_channels, body_model=body_model, mean_params=mean_params, num_iters=3,
              input_size=codec['input_size'], loss=dict(type='MeshLoss'),
              rarity_file=rarity_file),
    # evaluation needs the mesh (PVE, H36M joints), not each prediction's rarity (init_mesh_model turns it
    # on for the demo and the inference API)
    test_cfg=dict(flip_test=False, output_vertices=True, output_rarity=False),
    # start from a 2D pose model's backbone (e.g. MMPose's COCO ResNet-50, README):
    # --cfg-options model.init_cfg.checkpoint=FILE_OR_URL; None keeps the backbone's own init_cfg
    init_cfg=dict(type='PretrainedPose2D', checkpoint=None, mapping={'backbone.': 'backbone.'}))

# ---------------------------------------------------------------- data (pipelines of docs/datasets.md)
meta_keys = ('id', 'img_id', 'img_path', 'sample_idx', 'ori_shape', 'img_shape', 'input_size',
             'input_center', 'input_scale', 'flip', 'flip_direction', 'flip_indices',
             'dataset_tag', 'clip', 'is_rare', 'joint_set', 'gender')
train_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale', padding=1.2),
    dict(type='SMPLRandomFlip', prob=0.5),
    # SPIN: scale in [0.75, 1.25], rotation in [-30, 30] deg for 40 % of the samples, no shift
    dict(type='SMPLRandomBBoxTransform', shift_factor=0., scale_factor=(0.75, 1.25),
         rotate_factor=30., rotate_prob=0.4),
    dict(type='RandomChannelNoise', noise_factor=0.4),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs', meta_keys=meta_keys),
]
val_pipeline = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale', padding=1.2),
    dict(type='TopdownAffine', input_size=codec['input_size']),
    dict(type='GenerateTarget', encoder=codec),
    dict(type='PackPoseInputs', meta_keys=meta_keys),
]


def _spin_set(name, ann, **kwargs):  # noqa: E302  (MMHuman3D's SPIN files, docs/datasets.md)
    return dict(type='SMPLImageDataset', data_root=data_root, dataset_tag=name, joint_set=joint_set,
                ann_file=f'preprocessed_datasets/{ann}', data_prefix=dict(img=f'datasets/{name}/'),
                **kwargs)


# MMHuman3D names Human3.6M joints 9 and 10 'head_extra' and 'headtop'; SPIN trains them as its 'Jaw
# (H36M)' and 'Head (H36M)' joints (keypoint_conventions.MMHUMAN3D_H36M_TO_SPIN)
h36m_to_spin = dict(head_extra='jaw_extra', headtop='head_extra')
# SPIN's mix: H36M .35, MPI-INF-3DHP .15, LSP .1, LSPET .1, MPII .1, COCO .2
# mesh_collate: one crop tensor and NumPy labels per batch, so that loader workers scale
# (docs/experiments/benchmark_log.md)
train_dataloader = dict(
    batch_size=64,
    num_workers=8,
    persistent_workers=True,
    collate_fn=dict(type='mesh_collate'),
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type='MixedSMPLDataset',
        datasets=[
            _spin_set('h36m', 'h36m_mosh_train.npz', rename_keypoints=h36m_to_spin),
            _spin_set('mpi_inf_3dhp', 'spin_mpi_inf_3dhp_train.npz'),
            _spin_set('lsp', 'spin_lsp_train.npz'),
            _spin_set('lspet', 'spin_lspet_train.npz'),
            _spin_set('mpii', 'spin_mpii_train.npz'),
            _spin_set('coco', 'spin_coco_2014_train.npz'),
        ],
        ratios=[.35, .15, .1, .1, .1, .2],
        num_samples=100_000,
        seed=0,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=64,
    num_workers=4,
    persistent_workers=True,
    collate_fn=dict(type='mesh_collate'),
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    # 3DPW test protocol (SPIN eval.py): 14 LSP joints through the H36M regressor, gendered GT meshes
    dataset=dict(type='SMPLImageDataset', data_root=data_root, dataset_tag='pw3d', joint_set=joint_set,
                 ann_file='preprocessed_datasets/spin_pw3d_test.npz',
                 data_prefix=dict(img='datasets/pw3d/'), test_mode=True, pipeline=val_pipeline))
test_dataloader = val_dataloader

val_evaluator = [
    dict(type='MeshMetric', body_model=body_model, protocol='h36m_lsp14',
         gendered_body_models=gendered_body_models),
    dict(type='PoseRarity', body_model=body_model, mean_params=mean_params, rarity='mesh',
         protocol='h36m_lsp14', gendered_body_models=gendered_body_models),
]
test_evaluator = val_evaluator

# Human3.6M protocol 2 (S9, S11, camera 60457274, every 5th frame; MMHuman3D's H36M converter with
# protocol=2): GT = the labelled H36M joints, PA-MPJPE on 14 LSP joints. Used by configs/*_h36m-p2.py.
h36m_p2_test_dataloader = dict(
    _delete_=True, batch_size=64, num_workers=4, persistent_workers=True, drop_last=False,
    collate_fn=dict(type='mesh_collate'),
    sampler=dict(type='DefaultSampler', shuffle=False, round_up=False),
    dataset=dict(type='SMPLImageDataset', data_root=data_root, dataset_tag='h36m_p2', joint_set=joint_set,
                 ann_file='preprocessed_datasets/h36m_valid_protocol2.npz', rename_keypoints=h36m_to_spin,
                 data_prefix=dict(img='datasets/h36m/'), test_mode=True, pipeline=val_pipeline))
h36m_p2_test_evaluator = [
    dict(type='MeshMetric', body_model=body_model, protocol='h36m_joints_lsp14',
         metrics=['MPJPE', 'PA-MPJPE']),
]
del _spin_set
