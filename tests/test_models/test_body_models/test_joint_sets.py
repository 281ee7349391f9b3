"""Regression sources of named joints and the JointSetRegressor on the procedural body."""
import numpy as np
import pytest
import torch

from pmnet_plugin.datasets.keypoint_conventions import (HUMAN_DATA_KEYPOINTS,
                                                        MPI_INF_3DHP_KEYPOINTS, SPIN_49_KEYPOINTS,
                                                        VERTEX_KEYPOINTS)
from pmnet_plugin.models.body_models import SMPLBodyModel, load_smpl_model_file
from pmnet_plugin.models.body_models.constants import SMPL_JOINT_NAMES
from pmnet_plugin.models.body_models.joint_sets import (SMPL_VERTEX_KEYPOINT_IDS, joint_source,
                                                        regressable_mask)
from pmnet_plugin.synthetic.body_layout import extra_targets, vertex_landmarks


def test_sources_follow_spin_joint_map():
    # SPIN constants.JOINT_MAP: 'OP Neck': 12, 'OP MidHip': 0, 'OP RHip': 2, 'OP Nose': 24 (nose vertex),
    # 'Pelvis (MPII)': 49 (extra row 4), 'Head (H36M)': 53 (extra row 8), 'Right Ear': 27 (vertex)
    assert joint_source('neck_openpose') == ('smpl', 12)
    assert joint_source('pelvis_openpose') == ('smpl', 0)
    assert joint_source('right_hip_openpose') == ('smpl', 2)
    assert joint_source('nose_openpose') == ('vertex', 0) == joint_source('nose')
    assert joint_source('pelvis_extra') == ('extra', 4)
    assert joint_source('head_extra') == ('extra', 8)
    assert joint_source('right_ear') == ('vertex', VERTEX_KEYPOINTS.index('right_ear'))
    assert joint_source('head_h36m') == ('h36m', 10)
    assert joint_source('left_clavicle_3dhp') is None and joint_source('left_index_1') is None
    assert all(regressable_mask(SPIN_49_KEYPOINTS))  # SPIN regresses all of its 49 joints
    assert sum(regressable_mask(MPI_INF_3DHP_KEYPOINTS)) == 21
    assert SMPL_VERTEX_KEYPOINT_IDS[:5] == [332, 6260, 2800, 4071, 583]  # smplx vertex_ids['smplh']


def test_regressor_picks_each_source(body_model_files):
    body = SMPLBodyModel(body_model_files['model_path'],
                         joint_regressor_h36m=body_model_files['h36m_regressor'],
                         joint_regressor_extra=body_model_files['extra_regressor'])
    g = torch.Generator().manual_seed(0)
    out = body(torch.randn(2, 10, generator=g), torch.randn(2, 69, generator=g) * 0.3,
               torch.randn(2, 3, generator=g))
    extra = torch.from_numpy(np.load(body_model_files['extra_regressor'])).float()
    torch.testing.assert_close(out['joints_extra'], torch.einsum('jv,bvc->bjc', extra, out['vertices']))
    joints, available = body.regress_joint_set(out, 'human_data')
    assert joints.shape == (2, 190, 3) and available.sum() == 80
    hd = {n: i for i, n in enumerate(HUMAN_DATA_KEYPOINTS)}
    ids = load_smpl_model_file(body_model_files['model_path'])['keypoint_vertex_ids']
    torch.testing.assert_close(joints[:, hd['pelvis_extra']], out['joints_extra'][:, 4])
    torch.testing.assert_close(joints[:, hd['left_heel_openpose']], out['vertices'][:, ids[7]])
    torch.testing.assert_close(joints[:, hd['neck_openpose']], out['joints'][:, 12])
    torch.testing.assert_close(joints[:, hd['head_h36m']], out['joints_h36m'][:, 10])
    assert joints[:, hd['left_index_1']].abs().max() == 0 and available[hd['left_index_1']] == 0
    smpl, avail24 = body.regress_joint_set(out, 'smpl')  # the SMPL-24 set is the SMPL joints
    torch.testing.assert_close(smpl, out['joints'])
    assert avail24.min() == 1


def test_synthetic_extra_joints_and_points(body_model_files):
    arrays = load_smpl_model_file(body_model_files['model_path'])
    extra = np.load(body_model_files['extra_regressor'])
    assert extra.shape == (9, 6890)
    np.testing.assert_allclose(extra @ arrays['v_template'], extra_targets(arrays['J'], SMPL_JOINT_NAMES),
                               atol=1e-9)
    points = arrays['v_template'][arrays['keypoint_vertex_ids']]
    assert np.linalg.norm(points - vertex_landmarks(), axis=1).max() < 0.02  # nearest surface vertices


def test_gendered_synthetic_bodies(body_model_files):
    height = {}
    for key in ('model_path', 'model_path_male', 'model_path_female'):
        arrays = load_smpl_model_file(body_model_files[key])
        v = arrays['v_template']
        height[key] = v[:, 1].max() - v[:, 1].min()
        np.testing.assert_allclose(arrays['J_regressor'] @ v, arrays['J'], atol=1e-9)
    assert height['model_path_male'] > height['model_path'] + 0.05 > height['model_path_female'] + 0.1
    assert str(load_smpl_model_file(body_model_files['model_path_female'])['gender']) == 'female'


def test_bad_keypoint_vertex_ids(body_model_files):
    with pytest.raises(ValueError, match='keypoint_vertex_ids'):
        SMPLBodyModel(body_model_files['model_path'], keypoint_vertex_ids=[0, 1])
