"""Tests of the procedural SMPL-format body and its generator tool."""
import os.path as osp
import pickle
import runpy
import sys

import numpy as np
import pytest

from pmnet_plugin.models.body_models import load_smpl_model_file
from pmnet_plugin.models.body_models.constants import SMPL_JOINT_NAMES, SMPL_PARENTS
from pmnet_plugin.synthetic.body_layout import h36m_targets, rest_joints
from pmnet_plugin.synthetic.procedural_body import check_closed_genus0, make_synthetic_smpl

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.fixture(scope='module')
def arrays(body_model_files):
    return load_smpl_model_file(body_model_files['model_path'])


def test_official_topology_counts_and_closed_genus0(arrays):
    v, f = arrays['v_template'], arrays['f']
    assert v.shape == (6890, 3) and f.shape == (13776, 3)
    check_closed_genus0(v, f)  # raises otherwise
    # Outward orientation: positive signed volume, roughly a human's (60-90 litres).
    tri = v[f]
    volume = np.einsum('ij,ij->i', tri[:, 0], np.cross(tri[:, 1], tri[:, 2])).sum() / 6.0
    assert 0.04 < volume < 0.12


def test_broken_mesh_is_detected(arrays):
    with pytest.raises(RuntimeError, match='not closed'):
        check_closed_genus0(arrays['v_template'], arrays['f'][:-2])


def test_human_proportions_and_orientation(arrays):
    v, joints = arrays['v_template'], arrays['J']
    height = v[:, 1].max() - v[:, 1].min()
    assert 1.6 < height < 1.85
    j = {name: joints[i] for i, name in enumerate(SMPL_JOINT_NAMES)}
    assert abs(j['pelvis'][1] + 0.22) < 0.05 and abs(j['pelvis'][0]) < 1e-3
    assert j['left_hip'][0] > 0 > j['right_hip'][0]          # left side is +x
    assert j['head'][1] > j['neck'][1] > j['spine3'][1] > j['pelvis'][1] > j['left_knee'][1]
    assert j['left_foot'][2] > j['left_ankle'][2]            # toes point to +z (the body faces +z)
    nose = v[arrays['coco_face_vertex_ids'][0]]
    assert nose[2] > 0.1 and nose[1] > j['neck'][1]
    np.testing.assert_allclose(joints, rest_joints(SMPL_JOINT_NAMES), atol=1e-6)


def test_skinning_weights_and_regressors(arrays, body_model_files):
    w = arrays['weights']
    np.testing.assert_allclose(w.sum(1), 1.0, atol=1e-9)
    assert (w >= 0).all() and ((w > 0).sum(1) <= 4).all()
    # Every joint drives some vertices, and vertices near the left wrist follow the left forearm chain.
    assert (w.max(0) > 0.5).all()
    reg = arrays['J_regressor']
    np.testing.assert_allclose(reg.sum(1), 1.0, atol=1e-9)
    assert (reg >= 0).all() and ((reg > 0).sum(1) < 500).all()
    np.testing.assert_allclose(reg @ arrays['v_template'], arrays['J'], atol=1e-9)
    h36m = np.load(body_model_files['h36m_regressor'])
    assert h36m.shape == (17, 6890)
    np.testing.assert_allclose(h36m @ arrays['v_template'], h36m_targets(arrays['J'], SMPL_JOINT_NAMES),
                               atol=1e-9)
    kin = arrays['kintree_table']
    assert kin[0, 0] == 4294967295 and kin[0, 1:].tolist() == SMPL_PARENTS[1:]
    assert kin[1].tolist() == list(range(24))


def test_shape_directions(arrays):
    sd = arrays['shapedirs']
    assert sd.shape == (6890, 3, 10) and np.isfinite(sd).all()
    # Beta 0 scales the body (height), beta 1 thickens it (girth) without changing height much.
    v = arrays['v_template']
    tall, thick = v + 2 * sd[:, :, 0], v + 2 * sd[:, :, 1]
    height = lambda x: x[:, 1].max() - x[:, 1].min()  # noqa: E731
    assert height(tall) > height(v) + 0.15
    assert abs(height(thick) - height(v)) < 0.03
    torso = np.abs(v[:, 1] + 0.1) < 0.05
    assert np.ptp(thick[torso, 2]) > np.ptp(v[torso, 2]) + 0.02
    assert all(np.abs(sd[:, :, k]).max() > 1e-3 for k in range(10))
    assert np.all(arrays['posedirs'] == 0)
    assert bool(arrays['pmnet_synthetic'])


def test_refuses_to_overwrite_real_files(tmp_path, body_model_files):
    real = load_smpl_model_file(body_model_files['model_path_npz'])
    del real['pmnet_synthetic']
    (tmp_path / 'smpl').mkdir()
    with open(tmp_path / 'smpl' / 'SMPL_NEUTRAL.pkl', 'wb') as f:
        pickle.dump(real, f, protocol=2)
    with pytest.raises(FileExistsError, match='not a synthetic'):
        make_synthetic_smpl(str(tmp_path), seed=0)
    # A real SPIN regressor next to no SMPL file is protected as well.
    np.save(tmp_path / 'J_regressor_h36m.npy', np.zeros((17, 6890)))
    (tmp_path / 'smpl' / 'SMPL_NEUTRAL.pkl').unlink()
    with pytest.raises(FileExistsError, match='J_regressor_h36m'):
        make_synthetic_smpl(str(tmp_path), seed=0)


def test_tool_output_is_deterministic_and_seeded(tmp_path, monkeypatch, capsys, body_model_files):
    out = tmp_path / 'bm'
    monkeypatch.setattr(sys, 'argv', ['make_synthetic_smpl.py', '--out', str(out), '--seed', '1'])
    runpy.run_path(osp.join(REPO, 'tools', 'make_synthetic_smpl.py'), run_name='__main__')
    for rel in ('smpl/SMPL_NEUTRAL.pkl', 'smpl/SMPL_NEUTRAL.npz', 'J_regressor_h36m.npy',
                'smpl_mean_params.npz'):
        assert (out / rel).is_file(), rel
    assert 'done in' in capsys.readouterr().out
    # The mesh pipeline is deterministic (two separate runs give the same arrays); the seed only drives the
    # random shape directions 6-9.
    a = load_smpl_model_file(body_model_files['model_path_npz'])
    b = load_smpl_model_file(str(out / 'smpl' / 'SMPL_NEUTRAL.npz'))
    for key in ('v_template', 'weights', 'J_regressor', 'f'):
        np.testing.assert_array_equal(a[key], b[key], err_msg=key)
    np.testing.assert_array_equal(a['shapedirs'][:, :, :6], b['shapedirs'][:, :, :6])
    assert not np.allclose(a['shapedirs'][:, :, 6:], b['shapedirs'][:, :, 6:])
