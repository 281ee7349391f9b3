"""Fixtures shared by the model tests."""
import numpy as np
import pytest


@pytest.fixture(scope='session')
def real_pose_file(tmp_path_factory):
    """A tiny pose library (``tools/prepare_mocap.py`` layout): 40 poses near the rest pose."""
    poses = np.random.default_rng(0).normal(0, 0.1, (40, 72)).astype(np.float32)
    poses[:, :3] = [np.pi, 0, 0]
    path = tmp_path_factory.mktemp('mocap') / 'pose_library.npz'
    np.savez(path, poses=poses, is_rare=np.zeros(40, bool))
    return str(path)


def rarity_test_poses(mean_params: str, n: int, scale: float, seed: int) -> np.ndarray:
    """Axis-angle poses (n, 72), upright, whose body deviates from the mean body pose by N(0, scale) rad."""
    import torch

    from pmnet_plugin.models.body_models.smpl_io import load_mean_params
    from pmnet_plugin.utils.rotation import matrix_to_axis_angle, rot6d_to_matrix
    rot = rot6d_to_matrix(torch.from_numpy(load_mean_params(mean_params)['pose_rot6d']))
    mean_body = matrix_to_axis_angle(rot[1:]).reshape(69).double().numpy()
    poses = np.zeros((n, 72))
    poses[:, 0] = np.pi
    poses[:, 3:] = mean_body + np.random.default_rng(seed).normal(0, scale, (n, 69))
    return poses


@pytest.fixture(scope='session')
def rarity_poses():
    """The :func:`rarity_test_poses` factory."""
    return rarity_test_poses


@pytest.fixture(scope='session')
def rarity_file(body_model_files, tmp_path_factory):
    """A K=4 prototype file with the rarity quantiles of 200 training poses near the mean pose, written
    by ``tools/build_prototypes.py --body-model``."""
    import os.path as osp
    import sys
    root = tmp_path_factory.mktemp('rarity')
    poses = str(root / 'poses.npz')
    np.savez(poses, poses=rarity_test_poses(body_model_files['mean_params'], 200, 0.1, 0).astype(np.float32))
    sys.path.insert(0, osp.join(osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))), 'tools'))
    import build_prototypes
    out = str(root / 'prototypes_k4.npz')
    build_prototypes.main(['--poses', poses, '--k', '4', '--out', out,
                           '--mean-params', body_model_files['mean_params'],
                           '--body-model', body_model_files['model_path']])
    return out
