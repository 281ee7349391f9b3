"""The feature cache behind the head study: a step on cached features is the end-to-end step with a frozen
backbone, and the cache is rebuilt when what it was computed from changes."""
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmpose.registry import MODELS

import pmnet_plugin  # noqa: F401
from pmnet_plugin.analysis.feature_cache import build_feature_cache
from pmnet_plugin.datasets import CachedFeatureDataset, cached_feature_collate, mesh_collate

pytestmark = pytest.mark.slow  # renders images and runs the EfficientNet backbone

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIG = 'configs/pmnet_effnet-lite0_1xb32-400it_synthetic-96x96.py'
SIZE = (64, 64)


@pytest.fixture(scope='module')
def synth(tmp_path_factory, body_model_files):
    """6 train + 4 test rendered 64x64 images and K=4 prototypes of the train poses."""
    from pmnet_plugin.prototypes import build_prototypes, load_pose_source, save_prototypes
    from pmnet_plugin.synthetic.synth_dataset import make_synthetic_dataset
    root = tmp_path_factory.mktemp('cache_synth')
    data_root = str(root / 'synthetic')
    make_synthetic_dataset(data_root, num=6, num_test=4, img_size=SIZE[0], seed=0, workers=1,
                           body_model=body_model_files['model_path'], pose_library=str(root / 'lib.npz'))
    proto = str(root / 'protos.npz')
    save_prototypes(proto, build_prototypes(load_pose_source(osp.join(data_root, 'train.npz'))['poses'], k=4,
                                            seed=0))
    return dict(data_root=data_root, proto=proto, files=body_model_files, root=root)


def _cfg(synth) -> Config:
    init_default_scope('mmpose')
    cfg = Config.fromfile(osp.join(ROOT, CONFIG))
    files = synth['files']
    head = cfg.model.head
    head.body_model.update(model_path=files['model_path'], joint_regressor_h36m=files['h36m_regressor'])
    head.update(mean_params=files['mean_params'], input_size=SIZE, prototype_file=synth['proto'],
                num_prototypes=4, rarity_file=None)
    head.decoder = dict(type='SMPLLabelCodec', input_size=SIZE)
    for name in ('train_dataloader', 'test_dataloader'):
        cfg[name].dataset.data_root = synth['data_root']
        for t in cfg[name].dataset.pipeline:
            if 'input_size' in t:
                t.input_size = SIZE
            if 'encoder' in t:
                t.encoder.input_size = SIZE
    return cfg


def _pose2d_checkpoint(model, path, scale=1.0) -> str:
    """A 2D-stage checkpoint (MMPose HeatmapHead names) of ``model``'s backbone and heatmap layers."""
    state = {}
    for key, value in model.state_dict().items():
        if key.startswith('backbone.'):
            state[key] = value * scale if key.endswith('bn1.weight') else value
        elif key.startswith('neck.heatmap.3.'):
            state['head.final_layer.' + key[len('neck.heatmap.3.'):]] = value
        elif key.startswith('neck.heatmap.'):
            state['head.deconv_layers.' + key[len('neck.heatmap.'):]] = value
    torch.save(dict(state_dict=state), path)
    return str(path)


def test_cached_step_equals_frozen_end_to_end_step(synth, tmp_path):
    cfg = _cfg(synth)
    cache = build_feature_cache(cfg, 'test', str(tmp_path / 'cache'), dtype='float32', batch_size=3,
                                log=lambda s: None)
    end_to_end = MODELS.build(cfg.model)
    end_to_end.init_weights()
    end_to_end.backbone.requires_grad_(False)
    cached_cfg = cfg.model.copy()
    cached_cfg.update(type='FrozenBackboneMeshEstimator', init_cfg=None)
    cached_cfg.data_preprocessor.type = 'CachedFeaturePreprocessor'
    cached = MODELS.build(cached_cfg)
    cached.load_state_dict(end_to_end.state_dict())
    end_to_end.train()
    end_to_end.backbone.eval()
    cached.train()

    from mmpose.registry import DATASETS
    dataset = DATASETS.build(cfg.test_dataloader.dataset)
    images = end_to_end.data_preprocessor(mesh_collate([dataset[i] for i in range(4)]), True)
    features = cached.data_preprocessor(cached_feature_collate([CachedFeatureDataset(cache)[i]
                                                               for i in range(4)]), True)

    def step(model, data):
        model.zero_grad()
        torch.manual_seed(0)  # the same dropout masks in both
        losses = model.loss(data['inputs'], data['data_samples'])
        sum(v for k, v in losses.items() if k.startswith('loss')).backward()
        grads = {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}
        return {k: v.detach() for k, v in losses.items()}, grads

    loss_a, grad_a = step(end_to_end, images)
    loss_b, grad_b = step(cached, features)
    assert set(loss_a) == set(loss_b) and 'loss_proto' in loss_a and 'loss_heatmap' in loss_a
    for key in loss_a:
        assert torch.allclose(loss_a[key], loss_b[key], rtol=1e-5, atol=1e-5), key
    assert set(grad_a) == set(grad_b) and not any(k.startswith('backbone.') for k in grad_a)
    assert any(k.startswith('neck.') for k in grad_a) and any(k.startswith('head.selector') for k in grad_a)
    for key in grad_a:
        assert torch.allclose(grad_a[key], grad_b[key], rtol=1e-5, atol=1e-5), key


def test_cache_is_rebuilt_when_checkpoint_or_data_change(synth, tmp_path):
    cfg = _cfg(synth)
    model = MODELS.build(cfg.model)
    model.init_weights()
    ckpt = _pose2d_checkpoint(model, tmp_path / 'pose2d.pth')
    logs = []
    cache = str(tmp_path / 'cache')

    def build(checkpoint):
        logs.clear()
        build_feature_cache(cfg, 'train', cache, checkpoint=checkpoint, draws=2, batch_size=4, log=logs.append)
        return CachedFeatureDataset(cache)

    first = build(ckpt)
    assert 'not built yet' in logs[0] and len(first) == 12 and first.meta['draws'] == 2
    # two augmentation draws of one render differ (random scale / rotation), their labels with them
    assert not np.allclose(first.feats[1][0], first.feats[1][6])
    assert build(ckpt) is not None and 'reused' in logs[0]
    _pose2d_checkpoint(model, tmp_path / 'pose2d.pth', scale=1.5)
    changed = build(ckpt)
    assert 'checkpoint changed' in logs[0]
    assert not np.allclose(changed.feats[1][0], first.feats[1][0])
    ann = osp.join(synth['data_root'], 'train.npz')
    with np.load(ann, allow_pickle=True) as f:  # the test's own file
        arrays = {k: f[k] for k in f.files}
    np.savez(ann, **arrays, extra=np.zeros(1))  # the annotation file changes
    assert build(ckpt) is not None and 'annotations changed' in logs[0]
    (tmp_path / 'not_a_cache').mkdir()
    (tmp_path / 'not_a_cache' / 'user.txt').write_text('keep')
    with pytest.raises(FileExistsError):
        build_feature_cache(cfg, 'test', str(tmp_path / 'not_a_cache'), log=lambda s: None)
    assert (tmp_path / 'not_a_cache' / 'user.txt').read_text() == 'keep'
