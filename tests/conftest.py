"""Shared pytest fixtures for the whole test suite: fixed random seeds per test, the session body model."""
import os
import random

import numpy as np
import pytest
import torch

os.environ.setdefault('PYOPENGL_PLATFORM', 'osmesa')


@pytest.fixture(autouse=True)
def fixed_seeds():
    """Seeds Python, NumPy and torch before every test, so a random weight or input is the same in
    every run and a test passes or fails the same way each time."""
    random.seed(0)
    np.random.seed(0)
    torch.manual_seed(0)


@pytest.fixture(scope='session')
def body_model_files(tmp_path_factory):
    """The procedural SMPL-format body, generated once per session (about 2 s).

    Returns:
        dict: ``model_path`` (.pkl), ``model_path_npz``, ``h36m_regressor`` (.npy), ``mean_params`` (.npz),
        ``dir`` (the folder holding them, laid out like ``data/body_models``).
    """
    from pmnet_plugin.synthetic.procedural_body import make_synthetic_smpl
    return make_synthetic_smpl(str(tmp_path_factory.mktemp('body_models')), seed=0)
