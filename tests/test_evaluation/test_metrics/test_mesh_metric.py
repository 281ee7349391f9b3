"""MeshMetric: protocols, hand-computed errors and bad input."""
import numpy as np
import pytest
from mmpose.registry import METRICS

import pmnet_plugin  # noqa: F401  (registers MeshMetric)


def _rotation(angle):
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])


def _build(body_model_files, protocol='auto', **kwargs):
    body = dict(model_path=body_model_files['model_path'])
    if protocol != 'smpl24':
        body['joint_regressor_h36m'] = body_model_files['h36m_regressor']
    return METRICS.build(dict(type='MeshMetric', body_model=body, protocol=protocol, **kwargs))


def test_lazy_build_and_protocol_choice(tmp_path):
    metric = METRICS.build(dict(type='MeshMetric', body_model=dict(model_path=str(tmp_path / 'none.pkl'))))
    assert metric.protocol == 'smpl24' and metric._body is None  # nothing loaded yet
    metric = METRICS.build(dict(type='MeshMetric', body_model=dict(model_path='a', joint_regressor_h36m='b')))
    assert metric.protocol == 'h36m_lsp14'
    with pytest.raises(ValueError, match='joint_regressor_h36m'):
        METRICS.build(dict(type='MeshMetric', body_model=dict(model_path='a'), protocol='h36m_lsp14'))
    with pytest.raises(ValueError, match='metrics'):
        METRICS.build(dict(type='MeshMetric', body_model=dict(model_path='a'), metrics=['AUC']))


@pytest.mark.parametrize('protocol', ['smpl24', 'h36m_lsp14'])
def test_exact_transformed_and_hand_computed(body_model_files, make_sample, smpl_forward, random_poses,
                                             protocol):
    poses = random_poses(4, seed=1)
    betas = np.random.default_rng(2).normal(scale=0.5, size=(4, 10))
    gt = smpl_forward(poses, betas)
    samples = []
    for i in range(4):
        joints, verts = gt['joints'][i].copy(), gt['vertices'][i].copy()
        if i == 1:  # a camera translation: removed by the pelvis alignment
            joints, verts = joints + [0.1, -0.2, 5.0], verts + [0.1, -0.2, 5.0]
        if i == 2:  # rotation + scale + translation: only Procrustes removes it
            rot, scale, t = _rotation(0.5), 1.3, np.array([0.0, 0.3, 4.0])
            joints, verts = scale * joints @ rot.T + t, scale * verts @ rot.T + t
        if i == 3:  # every non-pelvis joint moved by 30 mm (smpl24 protocol: joints only)
            joints = joints + np.r_[[[0.0, 0.0, 0.0]], np.tile([[0.0, 0.03, 0.0]], (23, 1))]
        samples.append(make_sample(poses[i], betas[i], joints, verts, id=i))
    metric = _build(body_model_files, protocol)
    metric.process({}, samples[:2])
    metric.process({}, samples[2:])
    per = {k: np.array([r[k] for r in metric.results]) for k in ('MPJPE', 'PA-MPJPE', 'PVE')}
    assert np.allclose(per['MPJPE'][:2], 0, atol=1e-3) and per['MPJPE'][2] > 10
    assert np.allclose(per['PA-MPJPE'][:3], 0, atol=1e-3)
    assert np.allclose(per['PVE'][[0, 1, 3]], 0, atol=1e-3) and per['PVE'][2] > 10
    if protocol == 'smpl24':
        assert per['MPJPE'][3] == pytest.approx(30.0 * 23 / 24, abs=1e-3)
    else:  # H36M joints come from the (unchanged) vertices
        assert per['MPJPE'][3] == pytest.approx(0.0, abs=1e-3)
    out = metric.evaluate(4)
    assert out['mesh/MPJPE'] == pytest.approx(per['MPJPE'].mean(), abs=1e-9)
    assert out['mesh/num_samples'] == 4.0 and out['mesh/num_nan'] == 0.0
    assert all(isinstance(v, float) for v in out.values())


def test_h36m_protocol_matches_manual_lsp14(body_model_files, make_sample, smpl_forward, random_poses):
    from mmpose.evaluation.functional import keypoint_mpjpe

    from pmnet_plugin.models.body_models.constants import H36M_TO_LSP14
    poses, betas = random_poses(3, seed=3), np.zeros((3, 10))
    pred_poses = poses + np.random.default_rng(4).normal(scale=0.2, size=poses.shape)
    gt, pred = smpl_forward(poses, betas), smpl_forward(pred_poses, betas)
    metric = _build(body_model_files, 'h36m_lsp14')
    metric.process({}, [make_sample(poses[i], betas[i], pred['joints'][i], pred['vertices'][i])
                        for i in range(3)])
    out = metric.evaluate(3)
    g = (gt['joints_h36m'] - gt['joints_h36m'][:, :1])[:, H36M_TO_LSP14] * 1000
    p = (pred['joints_h36m'] - pred['joints_h36m'][:, :1])[:, H36M_TO_LSP14] * 1000
    mask = np.ones(g.shape[:2], bool)
    assert out['mesh/MPJPE'] == pytest.approx(keypoint_mpjpe(p, g, mask, 'none'), abs=1e-3)
    assert out['mesh/PA-MPJPE'] == pytest.approx(keypoint_mpjpe(p, g, mask, 'procrustes'), abs=1e-3)
    assert out['mesh/MPJPE'] > 1.0


def test_samples_without_smpl_use_gt_joints_or_are_skipped(body_model_files, make_sample):
    gt_joints = np.zeros((24, 3))
    pred_joints = np.zeros((24, 3))
    pred_joints[1:, 0] = 0.01  # 10 mm on 23 joints
    metric = _build(body_model_files, 'smpl24', metrics=('MPJPE', 'PA-MPJPE'))
    metric.process({}, [make_sample(None, np.zeros(10), pred_joints, None, gt_joints=gt_joints,
                                    has_smpl=0.0),
                        make_sample(None, np.zeros(10), pred_joints, None, has_smpl=0.0)])
    out = metric.evaluate(2)
    assert out['mesh/MPJPE'] == pytest.approx(10.0 * 23 / 24, abs=1e-4)
    assert out['mesh/num_skipped'] == 1.0


def test_bad_input_errors(body_model_files, make_sample, smpl_forward, random_poses):
    poses, betas = random_poses(3), np.zeros((3, 10))
    gt = smpl_forward(poses, betas)
    metric = _build(body_model_files, 'smpl24')
    with pytest.raises(ValueError, match='no processed samples|got 0'):
        metric.evaluate(0 + 1)
    with pytest.raises(ValueError, match='vertices'):
        metric.process({}, [make_sample(poses[0], betas[0], gt['joints'][0], None)])
    metric.process({}, [make_sample(poses[i], betas[i], gt['joints'][i], gt['vertices'][i])
                        for i in range(2)])
    with pytest.raises(ValueError, match='got 2 processed samples but the dataset has 3'):
        metric.evaluate(3)
    with pytest.raises(ValueError, match='no results'):
        metric.compute_metrics([])
    two = make_sample(poses[0], betas[0], gt['joints'][0], gt['vertices'][0])
    two['pred_instances']['keypoints_3d'] = np.repeat(two['pred_instances']['keypoints_3d'], 2, 0)
    with pytest.raises(ValueError, match='one instance'):
        metric.process({}, [two])


def test_nan_predictions_are_counted_not_averaged(body_model_files, make_sample, smpl_forward,
                                                  random_poses):
    poses, betas = random_poses(3, seed=5), np.zeros((3, 10))
    gt = smpl_forward(poses, betas)
    joints = gt['joints'].copy()
    joints[0, 1:] += [0.02, 0.0, 0.0]  # 20 mm on 23 joints
    verts = gt['vertices'].copy()
    verts[2, 5, 1] = np.nan
    metric = _build(body_model_files, 'smpl24')
    metric.process({}, [make_sample(poses[i], betas[i], joints[i], verts[i]) for i in range(3)])
    out = metric.evaluate(3)
    assert out['mesh/num_nan'] == 1.0
    assert out['mesh/MPJPE'] == pytest.approx(20.0 * 23 / 24 / 2, abs=1e-3)  # mean of samples 0, 1
    assert np.isfinite(out['mesh/PVE'])
    metric.process({}, [make_sample(poses[0], betas[0], joints[0] * np.nan, verts[0])])
    with pytest.raises(ValueError, match='NaN'):
        metric.evaluate(1)
