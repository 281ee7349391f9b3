"""Shared pytest fixtures (session scope) for the whole test suite."""
import os

import pytest

os.environ.setdefault('PYOPENGL_PLATFORM', 'osmesa')


@pytest.fixture(scope='session')
def body_model_files(tmp_path_factory):
    """The procedural SMPL-format body, generated once per session (about 2 s).

    Returns:
        dict: ``model_path`` (.pkl), ``model_path_npz``, ``h36m_regressor`` (.npy), ``mean_params`` (.npz),
        ``dir`` (the folder holding them, laid out like ``data/body_models``).
    """
    from pmnet_plugin.models.body_models.synthetic import make_synthetic_smpl
    return make_synthetic_smpl(str(tmp_path_factory.mktemp('body_models')), seed=0)
