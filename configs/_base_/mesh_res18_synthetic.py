# Everything but the head for the offline quickstart: ResNet-18 from scratch on the rendered long-tail
# dataset (tools/make_synthetic_dataset.py -> data/synthetic/{train,test}.npz), CPU-friendly.
# Leaf configs (`configs/{pmnet,hmr}_res18-w32_1xb16-300it_synthetic-96x96.py`) set the head type only.
# The real-data settings are inherited from mesh_res50_spin_mix.py and overridden here. See docs/configs.md.
_base_ = ['./mesh_res50_spin_mix.py']

data_root = 'data/synthetic'
# half-width ResNet-18 at 96 px: both models see a few epochs within CPU minutes (step times in
# docs/configs.md); the real-data configs keep 224 px ResNet-50
base_channels = 32
backbone_channels = 8 * base_channels
codec = dict(type='SMPLLabelCodec', input_size=(96, 96))


def _at_input_size(pipeline):
    """A pipeline of the base config at this config's input size."""
    out = []
    for t in pipeline:
        t = dict(t)
        if t['type'] == 'TopdownAffine':
            t['input_size'] = codec['input_size']
        elif t['type'] == 'GenerateTarget':
            t['encoder'] = codec
        out.append(t)
    return out


# the real-data pipelines of mesh_res50_spin_mix.py with the smaller input size (while this file runs, MMEngine's
# Config binds `_base_` to the merged base config)
train_pipeline = _at_input_size(_base_.train_pipeline)
val_pipeline = _at_input_size(_base_.val_pipeline)
del _at_input_size

# ---------------------------------------------------------------- schedule (our choice: a few CPU minutes)
# the quickstart sets its own length with --cfg-options train_cfg.max_iters=... train_cfg.val_interval=...
max_iters = 300
train_cfg = dict(by_epoch=False, max_iters=max_iters, val_interval=max_iters)
# from scratch with a small batch: a larger lr than SPIN's fine-tuning 5e-5 (our choice, not tuned), linear warm-up
optim_wrapper = dict(optimizer=dict(type='Adam', lr=1e-3, weight_decay=0.))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50),
]
auto_scale_lr = dict(base_batch_size=16)
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=10),
    checkpoint=dict(type='AtomicCheckpointHook', interval=max_iters, by_epoch=False, max_keep_ckpts=2,
                    save_best='mesh/PA-MPJPE', rule='less'))
log_processor = dict(window_size=10)
env_cfg = dict(dist_cfg=dict(backend='gloo'))  # CPU-friendly; set nccl on GPUs

# ---------------------------------------------------------------- model
model = dict(backbone=dict(_delete_=True, type='ResNet', depth=18, base_channels=base_channels, init_cfg=None),
             head=dict(in_channels=backbone_channels, input_size=codec['input_size']))

# ---------------------------------------------------------------- data
# the offline writer's joints are in the official SMPL-24 order ('smpl' in MMHuman3D's naming)
train_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    dataset=dict(_delete_=True, type='SMPLImageDataset', data_root=data_root, ann_file='train.npz',
                 data_prefix=dict(img='train/'), source_joint_set='smpl', dataset_tag='synthetic',
                 pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=16,
    num_workers=2,
    dataset=dict(_delete_=True, type='SMPLImageDataset', data_root=data_root, ann_file='test.npz',
                 data_prefix=dict(img='test/'), source_joint_set='smpl', dataset_tag='synthetic',
                 test_mode=True, pipeline=val_pipeline))
test_dataloader = val_dataloader
