"""Helpers for the metric tests: GT SMPL samples and predictions derived from them."""
from typing import Callable, Optional

import numpy as np
import pytest
import torch


@pytest.fixture(scope='module')
def smpl_body(body_model_files):
    """The synthetic SMPL body model with the H36M regressor."""
    from pmnet_plugin.models.body_models import SMPLBodyModel
    return SMPLBodyModel(body_model_files['model_path'],
                         joint_regressor_h36m=body_model_files['h36m_regressor']).eval()


@pytest.fixture
def make_sample() -> Callable:
    """Build ``PoseDataSample(...).to_dict()`` the way the test loop hands it to ``process``."""
    from mmengine.structures import InstanceData
    from mmpose.structures import PoseDataSample

    def _make(gt_pose: Optional[np.ndarray], gt_betas: np.ndarray, pred_joints: np.ndarray,
              pred_vertices: Optional[np.ndarray], gt_joints: Optional[np.ndarray] = None,
              has_smpl: float = 1.0, **metainfo) -> dict:
        gt = InstanceData()
        gt.smpl_betas = np.asarray(gt_betas, np.float32).reshape(1, 10)
        gt.has_smpl = np.array([has_smpl], np.float32)
        if gt_pose is not None:
            gt.smpl_pose = np.asarray(gt_pose, np.float32).reshape(1, 72)
        if gt_joints is not None:
            gt.keypoints_3d = np.asarray(gt_joints, np.float32).reshape(1, 24, 3)
            gt.keypoints_3d_visible = np.ones((1, 24), np.float32)
        pred = InstanceData()
        pred.keypoints_3d = np.asarray(pred_joints, np.float32).reshape(1, 24, 3)
        if pred_vertices is not None:
            pred.vertices = np.asarray(pred_vertices, np.float32)[None]
        sample = PoseDataSample(metainfo=dict(img_path='x.jpg', **metainfo))
        sample.gt_instances = gt
        sample.pred_instances = pred
        return sample.to_dict()

    return _make


def _smpl_forward(body, poses: np.ndarray, betas: np.ndarray) -> dict:
    with torch.no_grad():
        out = body(betas=torch.as_tensor(betas, dtype=torch.float32),
                   body_pose=torch.as_tensor(poses[:, 3:], dtype=torch.float32),
                   global_orient=torch.as_tensor(poses[:, :3], dtype=torch.float32))
    return {k: v.double().numpy() for k, v in out.items() if isinstance(v, torch.Tensor)}


def _random_poses(n: int, seed: int = 0, scale: float = 0.3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    poses = rng.normal(scale=scale, size=(n, 72))
    poses[:, :3] = [np.pi, 0.0, 0.0]
    return poses


@pytest.fixture
def smpl_forward(smpl_body) -> Callable:
    """``f(poses (N, 72) axis-angle, betas (N, 10)) -> dict`` of numpy body-model outputs (metres)."""
    return lambda poses, betas: _smpl_forward(smpl_body, poses, betas)


@pytest.fixture
def random_poses() -> Callable:
    """``f(n, seed=0, scale=0.3)`` -> axis-angle poses (n, 72), upright global orient (pi, 0, 0)."""
    return _random_poses
