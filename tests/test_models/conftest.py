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
