"""configs/{hmr,pmnet}_res50.py as shipped, on files in MMHuman3D's SPIN layouts: the mix trains with every
labelled joint supervised and validates on 3DPW with gendered GT. Backbone and crop shrunk for the CPU."""
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.runner import Runner
from real_layouts import write_h36m, write_images, write_pw3d, write_spin_converted

pytestmark = pytest.mark.slow  # trains or runs tools end to end (make test-fast leaves it out)

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SIZE = (64, 64)


def _write_mix(data_root):
    """The files the config names, under data_root/preprocessed_datasets, images under datasets/<name>/."""
    ann = osp.join(data_root, 'preprocessed_datasets')
    __import__('os').makedirs(ann)
    write_h36m(ann, n=4)
    write_spin_converted(ann, n=4, seed=2)
    for k, (mode, name) in enumerate([('lsp', 'spin_lsp_train.npz'), ('lspet', 'spin_lspet_train.npz'),
                                      ('mpii', 'spin_mpii_train.npz'), ('coco', 'spin_coco_2014_train.npz')]):
        write_spin_converted(ann, n=4, seed=10 + k, mode=mode, filename=name, with_3d=False)
    write_pw3d(ann, filename='spin_pw3d_test.npz')
    for name in ('h36m', 'mpi_inf_3dhp', 'lsp', 'lspet', 'mpii', 'coco', 'pw3d'):
        write_images(osp.join(data_root, 'datasets', name), 4)


@pytest.mark.parametrize('rel', ['configs/hmr_res50_1xb64-200k_spin-mix-224x224.py',
                                 'configs/pmnet_res50_1xb64-200k_spin-mix-224x224.py'])
def test_spin_mix_config_trains_and_validates(rel, tmp_path, body_model_files):
    data_root = str(tmp_path / 'data') + '/'
    _write_mix(data_root)
    cfg = Config.fromfile(osp.join(ROOT, rel))
    files = body_model_files
    paths = dict(model_path=files['model_path'], joint_regressor_h36m=files['h36m_regressor'],
                 joint_regressor_extra=files['extra_regressor'])
    gendered = dict(male=files['model_path_male'], female=files['model_path_female'])
    cfg.model.backbone = dict(type='ResNet', depth=18, base_channels=8, init_cfg=None)
    cfg.model.head.update(in_channels=64, input_size=SIZE, mean_params=files['mean_params'],
                          hidden_dims=(32, ))
    if 'prototype_file' in cfg.model.head:  # PM-Net does not train without prototypes
        from pmnet_plugin.prototypes import build_prototypes, save_prototypes
        poses = np.random.default_rng(0).normal(0, 0.3, (32, 72)).astype(np.float32)
        proto = str(tmp_path / 'protos.npz')
        save_prototypes(proto, build_prototypes(poses, k=4, seed=0))
        cfg.model.head.update(prototype_file=proto, num_prototypes=4)
    cfg.model.head.body_model.update(paths)
    for ev in cfg.val_evaluator:
        ev.body_model.update(paths)
        ev.gendered_body_models = gendered
        if 'mean_params' in ev:
            ev.mean_params = files['mean_params']
    cfg.test_evaluator = cfg.val_evaluator
    cfg.visualizer.smpl_model_path = files['model_path']
    mix = cfg.train_dataloader.dataset
    mix.num_samples = 8
    for ds in mix.datasets + [cfg.val_dataloader.dataset]:
        ds.data_root = data_root
    for loader in (cfg.train_dataloader, cfg.val_dataloader):
        loader.update(batch_size=4, num_workers=0, persistent_workers=False)
    for pipeline in (mix.pipeline, cfg.val_dataloader.dataset.pipeline):
        for t in pipeline:
            if 'input_size' in t:
                t.input_size = SIZE
            if 'encoder' in t:
                t.encoder.input_size = SIZE
    cfg.train_cfg.update(max_iters=2, val_interval=2)
    cfg.randomness = dict(seed=0)  # which samples the two batches draw from the mix
    cfg.default_hooks.checkpoint.update(interval=100, save_best=None)
    cfg.default_hooks.logger.interval = 1
    cfg.work_dir = str(tmp_path / 'work')
    runner = Runner.from_cfg(cfg)
    runner.train()
    sets = runner.train_dataloader.dataset.datasets
    report = {ds.dataset_tag: ds.supervision for ds in sets}
    assert report['h36m']['supervised_3d'] == report['h36m']['labelled_3d'] == 17
    for tag in ('mpi_inf_3dhp', 'lsp', 'lspet', 'mpii', 'coco'):
        assert report[tag]['supervised_2d'] == 17  # GT joints; OpenPose detections weigh 0 as in SPIN
    assert report['mpi_inf_3dhp']['supervised_3d'] == 17
    logged = runner.message_hub.log_scalars
    # a batch of the weighted mix can hold no sample with a given label (its term is then 0): every term must be
    # finite at every iteration and non-zero in at least one
    for key in ('train/loss_keypoint_labels', 'train/loss_keypoints_3d', 'train/loss_smpl_pose'):
        values = logged[key].data[0]
        assert len(values) == 2 and np.isfinite(values).all() and values.max() > 0, (key, values)
    metrics = runner.message_hub.get_info('eval_metrics') or {}
    scalars = {k[len('val/'):]: v.current() for k, v in logged.items() if k.startswith('val/')}
    scalars.update(metrics)
    assert scalars['mesh/gendered_gt'] == 1.0 and np.isfinite(scalars['mesh/PA-MPJPE'])
