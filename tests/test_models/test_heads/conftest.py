"""Fixtures for the head tests: hand-built data samples (``docs/design.md`` contract) and head configs."""
import math

import numpy as np
import pytest
import torch
from mmengine.structures import InstanceData
from mmpose.structures import PoseDataSample


def build_mesh_samples(batch_size: int = 2, seed: int = 0, poses=None, has_smpl: float = 1.0):
    """PoseDataSamples with every ``gt_instance_labels`` field a mesh head reads."""
    g = torch.Generator().manual_seed(seed)
    samples = []
    for i in range(batch_size):
        if poses is None:
            pose = torch.randn(72, generator=g) * 0.2
            pose[:3] = torch.tensor([math.pi, 0.0, 0.0])
        else:
            pose = torch.as_tensor(poses[i], dtype=torch.float32)
        labels = InstanceData(
            keypoint_labels=torch.rand(1, 24, 2, generator=g) * 2 - 1,
            keypoint_weights=torch.ones(1, 24),
            keypoints_3d=torch.randn(1, 24, 3, generator=g) * 0.3,
            keypoints_3d_weights=torch.ones(1, 24),
            smpl_pose=pose[None],
            smpl_betas=torch.randn(1, 10, generator=g) * 0.5,
            has_smpl=torch.full((1, ), has_smpl))
        sample = PoseDataSample(metainfo=dict(
            input_size=(224, 224), input_center=np.array([100.0, 120.0]),
            input_scale=np.array([200.0, 200.0])))
        sample.gt_instance_labels = labels
        sample.gt_instances = InstanceData(bboxes=np.array([[0, 20, 200, 220]], np.float32),
                                           bbox_scores=np.ones(1, np.float32))
        samples.append(sample)
    return samples


@pytest.fixture
def mesh_samples():
    """Factory ``mesh_samples(batch_size=2, seed=0, poses=None, has_smpl=1.0)``."""
    return build_mesh_samples


@pytest.fixture
def head_kwargs(body_model_files):
    """Small HMRHead arguments on the synthetic body model (IEF MLP shrunk for speed)."""
    return dict(
        in_channels=32,
        body_model=dict(type='SMPLBodyModel', model_path=body_model_files['model_path'],
                        joint_regressor_h36m=body_model_files['h36m_regressor']),
        mean_params=body_model_files['mean_params'],
        hidden_dims=(64, 64))
