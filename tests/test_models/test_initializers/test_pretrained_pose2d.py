"""PretrainedPose2D: mesh configs start from a 2D pose model's checkpoint (MMPose's zoo model and our 2D stage);
a checkpoint of another backbone or head size is refused with the keys named."""
import logging
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope
from mmengine.runner import save_checkpoint
from mmpose.registry import MODELS

from pmnet_plugin.apis.checkpoint import CheckpointMismatchError

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))))
MMPOSE_CONFIGS = osp.join(osp.dirname(__import__('mmpose').__file__), '.mim', 'configs')
ZOO_RES50 = osp.join(MMPOSE_CONFIGS, 'body_2d_keypoint/topdown_heatmap/coco/td-hm_res50_8xb64-210e_coco-256x192.py')
PMNET_RES50 = osp.join(ROOT, 'configs/pmnet_res50_1xb64-200k_spin-mix-224x224.py')
TD_HM_EFFNET = osp.join(ROOT, 'configs/td-hm_effnet-lite0_1xb32-400it_synthetic-96x96.py')
HMR_EFFNET = osp.join(ROOT, 'configs/hmr_effnet-lite0_1xb32-400it_synthetic-96x96.py')


class LogRecords(logging.Handler):
    """Collects the messages of MMEngine's current logger while the ``with`` block runs."""

    def __enter__(self):
        self.messages = []
        MMLogger.get_current_instance().addHandler(self)
        return self

    def __exit__(self, *exc):
        MMLogger.get_current_instance().removeHandler(self)

    def emit(self, record):
        self.messages.append(record.getMessage())


def save_pose2d(config: str, path: str, **model_updates) -> dict:
    """Builds a 2D pose model from an MMPose-style config (nothing downloaded) and saves it with MMEngine.

    Returns:
        dict: The saved state dict.
    """
    init_default_scope('mmpose')
    cfg = Config.fromfile(config)
    cfg.model.backbone.init_cfg = None
    for key, value in model_updates.items():
        cfg.model[key].update(value)
    model = MODELS.build(cfg.model)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    save_checkpoint({'state_dict': state, 'meta': dict(cfg=cfg.pretty_text)}, path)
    return state


def mesh_model(config: str, files: dict, tmp_path, checkpoint=None):
    """The mesh config's model with the session body model, random prototypes and ``init_cfg.checkpoint``."""
    from pmnet_plugin.prototypes import build_prototypes, save_prototypes
    init_default_scope('mmpose')
    cfg = Config.fromfile(config)
    head = cfg.model.head
    head.body_model.update(model_path=files['model_path'], joint_regressor_h36m=files['h36m_regressor'],
                           joint_regressor_extra=files['extra_regressor'])
    head.mean_params = files['mean_params']
    if 'prototype_file' in head:
        poses = np.random.default_rng(0).normal(0, 0.3, (32, 72)).astype(np.float32)
        save_prototypes(str(tmp_path / 'protos.npz'), build_prototypes(poses, k=4, seed=0))
        head.update(prototype_file=str(tmp_path / 'protos.npz'), num_prototypes=4, rarity_file=None)
    else:
        head.rarity_file = None
    cfg.model.init_cfg.checkpoint = checkpoint
    return MODELS.build(cfg.model)


def test_zoo_res50_starts_pmnet_res50(tmp_path, body_model_files):
    """MMPose's own COCO ResNet-50 heatmap model, saved by MMEngine, gives PM-Net's backbone all its
    tensors (the torchvision ImageNet init is skipped, so nothing downloads); its heatmap head is logged as
    unused and the mesh head keeps its own initialisation."""
    ckpt = str(tmp_path / 'td-hm_res50_coco.pth')
    state = save_pose2d(ZOO_RES50, ckpt)
    model = mesh_model(PMNET_RES50, body_model_files, tmp_path, checkpoint=ckpt)
    assert not torch.equal(model.backbone.conv1.weight, state['backbone.conv1.weight'])
    with LogRecords() as log:
        model.init_weights()
    backbone = model.backbone.state_dict()
    assert len(backbone) == sum(k.startswith('backbone.') for k in state) > 300
    for key, value in backbone.items():
        assert torch.equal(value, state['backbone.' + key]), key
    text = '\n'.join(log.messages)
    assert f'PretrainedPose2D: loaded {len(backbone)} tensors from {ckpt}' in text
    unused = [sum(k.startswith(p) for k in state) for p in ('head.deconv_layers.', 'head.final_layer.')]
    assert f'Not used from the checkpoint: head.deconv_layers.* ({unused[0]}), head.final_layer.* ' \
           f'({unused[1]})' in text
    assert 'Kept their own initialisation: head.' in text


def test_other_backbone_is_refused(tmp_path, body_model_files):
    """A ResNet-18 2D checkpoint for the ResNet-50 mesh config: an error naming missing and mismatched keys."""
    ckpt = str(tmp_path / 'td-hm_res18.pth')
    save_pose2d(ZOO_RES50, ckpt, backbone=dict(depth=18), head=dict(in_channels=512))
    model = mesh_model(PMNET_RES50, body_model_files, tmp_path, checkpoint=ckpt)
    with pytest.raises(CheckpointMismatchError) as err:
        model.init_weights()
    msg = str(err.value)
    assert 'backbone.layer1.0.conv3.weight' in msg  # ResNet-50 bottlenecks have a third conv
    assert 'backbone.layer1.0.conv1.weight -> backbone.layer1.0.conv1.weight: checkpoint (64, 64, 3, 3) vs ' \
           'model (64, 64, 1, 1)' in msg


def test_2d_stage_starts_backbone_and_heatmap_layers(tmp_path, body_model_files):
    """The offline 2D stage's checkpoint gives the mesh config its backbone and the neck's heatmap branch:
    the same input gives the same heatmaps through HeatmapHead and KeypointHeatmapNeck."""
    ckpt = str(tmp_path / 'td-hm_effnet.pth')
    torch.manual_seed(1)
    state = save_pose2d(TD_HM_EFFNET, ckpt)
    init_default_scope('mmpose')
    cfg = Config.fromfile(TD_HM_EFFNET)
    cfg.model.backbone.init_cfg = None
    pose2d = MODELS.build(cfg.model)
    pose2d.load_state_dict(state)
    model = mesh_model(HMR_EFFNET, body_model_files, tmp_path, checkpoint=ckpt)
    embed_before = model.neck.keypoint_embed[0].weight.clone()
    with LogRecords() as log:
        model.init_weights()
    assert torch.equal(model.neck.heatmap[0].weight, state['head.deconv_layers.0.weight'])
    assert torch.equal(model.neck.heatmap[3].bias, state['head.final_layer.bias'])
    assert torch.equal(model.neck.keypoint_embed[0].weight, embed_before)
    pose2d.eval()
    model.eval()
    x = torch.randn(2, 3, 96, 96)
    with torch.no_grad():
        expected = pose2d.head.forward(pose2d.neck(pose2d.backbone(x)))
        heatmaps, _ = model.neck(model.backbone(x))
    assert heatmaps.shape == (2, 24, 12, 12)
    torch.testing.assert_close(heatmaps, expected)
    text = '\n'.join(log.messages)
    assert 'neck.heatmap.* (8)' in text and 'Not used from the checkpoint: none' in text
    assert 'neck.keypoint_embed.* (4)' in text  # kept its own initialisation


def test_other_joint_count_is_refused_and_none_loads_nothing(tmp_path, body_model_files):
    """17 heatmaps for the mesh neck's 24 are refused; without a checkpoint nothing changes, which is logged."""
    ckpt = str(tmp_path / 'td-hm_effnet_17.pth')
    save_pose2d(TD_HM_EFFNET, ckpt, head=dict(out_channels=17))
    model = mesh_model(HMR_EFFNET, body_model_files, tmp_path, checkpoint=ckpt)
    with pytest.raises(CheckpointMismatchError, match=r'head.final_layer.weight -> neck.heatmap.3.weight: '
                       r'checkpoint \(17, 64, 1, 1\) vs model \(24, 64, 1, 1\)'):
        model.init_weights()

    model = mesh_model(HMR_EFFNET, body_model_files, tmp_path, checkpoint=None)
    model.backbone.init_cfg = None  # no ImageNet weights: the heatmap layers show what init_weights did
    before = {k: v.clone() for k, v in model.state_dict().items() if k.startswith(('backbone.', 'neck.'))}
    with LogRecords() as log:
        model.init_weights()
    assert all(torch.equal(model.state_dict()[k], v) for k, v in before.items())
    assert any('no 2D checkpoint given' in m for m in log.messages)


def test_2d_stage_config_matches_the_mesh_configs():
    """What the initializer does not check: the 2D stage normalises and crops as the mesh configs do, and its
    backbone is built with the same arguments (so its tensors and their training-time freezing match)."""
    pose2d, mesh = Config.fromfile(TD_HM_EFFNET), Config.fromfile(HMR_EFFNET)
    assert pose2d.model.data_preprocessor == mesh.model.data_preprocessor
    assert pose2d.model.backbone == {k: v for k, v in mesh.model.backbone.items() if k != '_delete_'}
    assert pose2d.codec.input_size == mesh.codec.input_size
    assert pose2d.model.head.out_channels == mesh.model.neck.num_keypoints
    assert pose2d.custom_imports == dict(imports=['pmnet_plugin'], allow_failed_imports=False)
