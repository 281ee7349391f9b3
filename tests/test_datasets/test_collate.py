"""mesh_collate: a batch crosses from a loader worker as one tensor; the heads read its labels."""
import glob
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmengine.structures import InstanceData
from mmpose.structures import PoseDataSample

from pmnet_plugin.datasets import SMPLImageDataset, mesh_collate

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _tensors(obj) -> list:
    """Every tensor reachable in a batch (what a worker would hand over one by one)."""
    if torch.is_tensor(obj):
        return [obj]
    if isinstance(obj, dict):
        return [t for v in obj.values() for t in _tensors(v)]
    if isinstance(obj, (list, tuple)):
        return [t for v in obj for t in _tensors(v)]
    if hasattr(obj, 'all_values'):
        return [t for v in obj.all_values() for t in _tensors(v)]
    return []


def _train_pipeline(input_size=(32, 32)) -> list:
    """The synthetic mesh configs' training pipeline, cropping to ``input_size``."""
    cfg = Config.fromfile(osp.join(ROOT, 'configs', '_base_', 'mesh_effnet_synthetic.py'))
    codec = dict(cfg.codec, input_size=input_size)
    sizes = dict(TopdownAffine=dict(input_size=input_size), GenerateTarget=dict(encoder=codec))
    return [dict(t, **sizes.get(t['type'], {})) for t in cfg.train_pipeline]


@pytest.fixture
def dataset(humandata_dir):
    init_default_scope('mmpose')
    return SMPLImageDataset(ann_file='ann.npz', data_root=humandata_dir, pipeline=_train_pipeline())


def test_one_tensor_per_batch_through_a_worker(dataset):
    samples = [dataset[i] for i in range(4)]
    assert len(_tensors(pseudo_collate(samples))) > 4  # the per-sample tensors mesh_collate removes
    loader = Runner.build_dataloader(dict(
        batch_size=4, num_workers=1, persistent_workers=False, dataset=dataset,
        sampler=dict(type='DefaultSampler', shuffle=False), collate_fn=dict(type='mesh_collate')))
    batch = next(iter(loader))
    tensors = _tensors(batch)
    assert len(tensors) == 1 and tensors[0] is batch['inputs']
    assert batch['inputs'].shape == (4, 3, 32, 32) and batch['inputs'].dtype == torch.uint8
    labels = batch['data_samples'][0].gt_instance_labels
    assert isinstance(labels.keypoints_3d, np.ndarray) and labels.keypoints_3d.shape == (1, 24, 3)


def test_pose_data_preprocessor_takes_the_stacked_crops(dataset):
    from mmpose.models.data_preprocessors import PoseDataPreprocessor
    samples = [dataset[i] for i in range(3)]
    pre = PoseDataPreprocessor(mean=[127.5] * 3, std=[127.5] * 3, bgr_to_rgb=True)
    a = pre(mesh_collate(samples))['inputs']
    b = pre(pseudo_collate(samples))['inputs']
    torch.testing.assert_close(a, b)


def test_heads_read_array_and_tensor_labels_alike(dataset):
    from pmnet_plugin.models.heads.hmr_head import HMRHead
    samples = [dataset[i] for i in range(3)]
    head = HMRHead.__new__(HMRHead)  # gather_targets reads only init_betas
    torch.nn.Module.__init__(head)
    head.register_buffer('init_betas', torch.zeros(1, 10))
    from_arrays = head.gather_targets(mesh_collate(samples)['data_samples'], 'cpu')
    from_tensors = head.gather_targets(pseudo_collate(samples)['data_samples'], 'cpu')
    assert from_arrays.keys() == from_tensors.keys()
    for key in from_arrays:
        torch.testing.assert_close(from_arrays[key], from_tensors[key])
    # a sample without 3D labels and root gets zero 3D weights and the pelvis as root
    partial = mesh_collate(samples)['data_samples']
    labels = partial[1].gt_instance_labels
    partial[1].gt_instance_labels = InstanceData(
        **{k: labels.get(k) for k in labels.keys() if k not in ('keypoints_3d', 'keypoints_3d_root')})
    t = head.gather_targets(partial, 'cpu')
    assert t['keypoints_3d_weights'][1].sum() == 0 and t['keypoints_3d_weights'][0].sum() > 0
    assert t['keypoints_3d_root'][1, 0] == 1 and t['keypoints_3d_root'][1, 1:].sum() == 0
    torch.testing.assert_close(t['keypoints_3d'][1], torch.zeros(24, 3))


def test_empty_labels_and_lists_pass_through():
    s = PoseDataSample()
    out = mesh_collate([dict(inputs=torch.zeros(3, 4, 4), data_samples=s),
                        dict(inputs=torch.zeros(3, 5, 4), data_samples=s)])
    assert isinstance(out['inputs'], list)  # crops of different sizes stay a list


# the 2D keypoint stage (td-hm_*) uses MMPose's heads, which read tensor labels: pseudo_collate
MESH_CONFIGS = sorted(p for p in glob.glob(osp.join(ROOT, 'configs', '*.py'))
                      if not osp.basename(p).startswith('td-hm'))


@pytest.mark.parametrize('path', MESH_CONFIGS)
def test_every_mesh_config_collates_with_mesh_collate(path):
    cfg = Config.fromfile(path)
    assert cfg.model.type == 'TopdownMeshEstimator'
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        if cfg.get(name):
            assert cfg[name].get('collate_fn', {}).get('type') == 'mesh_collate', (path, name)
