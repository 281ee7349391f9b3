"""Tests of the SMPL file readers (official chumpy .pkl without chumpy, .npz, SPIN mean params)."""
import importlib.util
import io
import os.path as osp
import pickle
import sys
import types

import numpy as np
import pytest
from scipy import sparse

from pmnet_plugin.models.body_models import smpl_io
from pmnet_plugin.models.body_models.smpl_io import (load_h36m_regressor, load_mean_params,
                                                     load_smpl_model_file)
from pmnet_plugin.utils.safe_pickle import restricted_load


def _write_pkl(path, arrays, protocol=2):
    with open(path, 'wb') as f:
        pickle.dump(arrays, f, protocol=protocol)
    return str(path)


def test_pkl_and_npz_load_the_same_arrays(body_model_files):
    pkl = load_smpl_model_file(body_model_files['model_path'])
    npz = load_smpl_model_file(body_model_files['model_path_npz'])
    assert pkl['v_template'].shape == (6890, 3)
    assert pkl['shapedirs'].shape == (6890, 3, 10)
    assert pkl['posedirs'].shape == (6890, 3, 207)
    assert pkl['weights'].shape == (6890, 24)
    assert pkl['f'].shape == (13776, 3) and pkl['f'].dtype == np.int64
    assert pkl['kintree_table'].dtype == np.int64 and pkl['kintree_table'][0, 0] == 4294967295
    # The pickle stores J_regressor as a scipy sparse matrix (official layout); the loader densifies it.
    with open(body_model_files['model_path'], 'rb') as f:
        assert sparse.issparse(pickle.load(f, encoding='latin1')['J_regressor'])
    assert isinstance(pkl['J_regressor'], np.ndarray) and pkl['J_regressor'].shape == (24, 6890)
    for key in ('v_template', 'shapedirs', 'posedirs', 'J_regressor', 'weights', 'kintree_table', 'f'):
        np.testing.assert_array_equal(pkl[key], npz[key], err_msg=key)


def _fake_chumpy():
    """Registers a stand-in ``chumpy.ch.Ch`` in sys.modules (the caller removes it)."""
    chumpy_mod, ch_mod = types.ModuleType('chumpy'), types.ModuleType('chumpy.ch')

    class Ch:

        def __init__(self, x):
            self.x = x
            self._dirty_vars = set()

    Ch.__module__, Ch.__qualname__ = 'chumpy.ch', 'Ch'
    ch_mod.Ch = Ch
    chumpy_mod.ch = ch_mod
    for name in [m for m in sys.modules if m == 'chumpy' or m.startswith('chumpy.')]:
        del sys.modules[name]  # a real chumpy, if installed, is re-imported on demand
    sys.modules.update({'chumpy': chumpy_mod, 'chumpy.ch': ch_mod})
    return Ch


def test_chumpy_pickle_loads_without_chumpy(tmp_path, body_model_files):
    """An official-layout file (protocol 2, chumpy arrays, sparse J_regressor) loads without chumpy."""
    arrays = load_smpl_model_file(body_model_files['model_path_npz'])
    Ch = _fake_chumpy()
    try:
        official = dict(arrays, shapedirs=Ch(arrays['shapedirs']), v_template=Ch(arrays['v_template']),
                        J_regressor=sparse.csc_matrix(arrays['J_regressor']), bs_style='lbs')
        path = _write_pkl(tmp_path / 'chumpy.pkl', official, 2)
    finally:
        del sys.modules['chumpy'], sys.modules['chumpy.ch']
    with open(path, 'rb') as f:
        assert b'chumpy.ch' in f.read()

    loaded = load_smpl_model_file(path)
    if importlib.util.find_spec('chumpy') is None:  # nothing to import: the stand-in did the work
        assert 'chumpy' not in sys.modules
    np.testing.assert_array_equal(loaded['shapedirs'], arrays['shapedirs'])
    np.testing.assert_array_equal(loaded['v_template'], arrays['v_template'])
    np.testing.assert_array_equal(loaded['J_regressor'], arrays['J_regressor'])
    assert loaded['bs_style'] == 'lbs'


@pytest.mark.parametrize('protocol', [0, 1, 2])
def test_chumpy_stand_in_all_protocols(protocol):
    """Python-2 era pickles may use any protocol; each one must yield the Ch value as an array."""
    Ch = _fake_chumpy()
    try:
        blob = pickle.dumps({'a': Ch(np.arange(6.0).reshape(2, 3))}, protocol=protocol)
    finally:
        del sys.modules['chumpy'], sys.modules['chumpy.ch']
    raw = restricted_load(io.BytesIO(blob), 'mem', smpl_io.CHUMPY_SUBSTITUTES)
    np.testing.assert_array_equal(smpl_io._to_numpy(raw['a'], 'a'), np.arange(6.0).reshape(2, 3))


def test_missing_file_names_file_folder_and_source(tmp_path):
    path = str(tmp_path / 'smpl' / 'SMPL_NEUTRAL.pkl')
    with pytest.raises(FileNotFoundError) as err:
        load_smpl_model_file(path)
    msg = str(err.value)
    assert path in msg and osp.dirname(path) in msg
    assert 'smpl.is.tue.mpg.de' in msg and 'SMPL_NEUTRAL.pkl' in msg and 'make_synthetic_smpl.py' in msg
    with pytest.raises(FileNotFoundError, match='data.tar.gz'):
        load_mean_params(str(tmp_path / 'smpl_mean_params.npz'))
    with pytest.raises(FileNotFoundError, match='fetch_data.sh'):
        load_h36m_regressor(str(tmp_path / 'J_regressor_h36m.npy'))


def test_bad_shape_nan_and_missing_key_name_file_and_key(tmp_path, body_model_files):
    arrays = load_smpl_model_file(body_model_files['model_path_npz'])
    bad = _write_pkl(tmp_path / 'bad_shape.pkl', dict(arrays, weights=arrays['weights'][:, :23]))
    with pytest.raises(ValueError, match=r"bad_shape\.pkl.*'weights'.*\(6890, 24\)"):
        load_smpl_model_file(bad)

    v = arrays['v_template'].copy()
    v[10, 1] = np.nan
    nan = str(tmp_path / 'nan.npz')
    np.savez(nan, **dict(arrays, v_template=v))
    with pytest.raises(ValueError, match=r"nan\.npz.*'v_template'.*NaN"):
        load_smpl_model_file(nan)

    missing = _write_pkl(tmp_path / 'missing.pkl', {k: a for k, a in arrays.items() if k != 'posedirs'})
    with pytest.raises(KeyError, match='posedirs'):
        load_smpl_model_file(missing)

    txt = tmp_path / 'model.txt'
    txt.write_text('not a model')
    with pytest.raises(ValueError, match='extension'):
        load_smpl_model_file(str(txt))


def test_mean_params_spin_format(tmp_path, body_model_files):
    mean = load_mean_params(body_model_files['mean_params'])
    assert mean['pose_rot6d'].shape == (24, 6) and mean['pose_rot6d'].dtype == np.float32
    # Global orient (pi, 0, 0) = diag(1, -1, -1): first two columns flattened row-major.
    np.testing.assert_allclose(mean['pose_rot6d'][0], [1, 0, 0, -1, 0, 0], atol=1e-6)
    np.testing.assert_allclose(mean['pose_rot6d'][1:], np.tile([1, 0, 0, 1, 0, 0], (23, 1)), atol=1e-6)
    np.testing.assert_array_equal(mean['betas'], np.zeros(10, np.float32))
    np.testing.assert_allclose(mean['cam'], [0.9, 0.0, 0.0])
    bad = str(tmp_path / 'bad_mean.npz')
    np.savez(bad, pose=np.zeros(72), shape=np.zeros(10), cam=np.zeros(3))
    with pytest.raises(ValueError, match=r"'pose'.*\(144,\)"):
        load_mean_params(bad)


def test_h36m_regressor_shape_check(tmp_path, body_model_files):
    reg = load_h36m_regressor(body_model_files['h36m_regressor'], 6890)
    assert reg.shape == (17, 6890) and reg.dtype == np.float32
    bad = str(tmp_path / 'reg.npy')
    np.save(bad, np.zeros((14, 6890)))
    with pytest.raises(ValueError, match=r'reg\.npy.*\(14, 6890\)'):
        load_h36m_regressor(bad, 6890)
