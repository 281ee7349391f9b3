"""PoseRarity: planted rare samples land in the tail; balanced/grouped numbers; JSON/PNG output."""
import json

import numpy as np
import pytest
import torch
from mmpose.registry import METRICS

import pmnet_plugin  # noqa: F401  (registers PoseRarity)

N_COMMON, N_RARE, RARE_IDS = 18, 2, (5, 12)
RARE_ERROR_MM = 40.0


def _mean_body_pose(mean_params_path):
    from pmnet_plugin.models.body_models.smpl_io import load_mean_params
    from pmnet_plugin.utils.rotation import matrix_to_axis_angle, rot6d_to_matrix
    pose_rot6d = torch.from_numpy(load_mean_params(mean_params_path)['pose_rot6d'])
    return matrix_to_axis_angle(rot6d_to_matrix(pose_rot6d[1:])).reshape(69).double().numpy()


def _planted(body_model_files):
    """20 GT poses: 18 near the mean pose, 2 identical strongly bent ones at RARE_IDS."""
    rng = np.random.default_rng(0)
    body = _mean_body_pose(body_model_files['mean_params'])
    poses = np.zeros((N_COMMON + N_RARE, 72))
    poses[:, 0] = np.pi
    poses[:, 3:] = body + rng.normal(scale=0.02, size=(len(poses), 69))
    rare = body.copy().reshape(23, 3)
    rare[[0, 1, 15, 16, 17, 18]] += [[1.4, 0, 0], [-1.2, 0, 0.5], [0, 1.3, 0], [0, -1.3, 0],
                                     [0, 1.5, 0], [0, -1.5, 0]]  # hips, shoulders, elbows
    poses[list(RARE_IDS), 3:] = rare.reshape(69)
    return poses


def _samples(make_sample, smpl_forward, poses):
    """Predictions: exact for common samples, every non-pelvis joint off by 40 mm for the rare ones."""
    betas = np.zeros((len(poses), 10))
    gt = smpl_forward(poses, betas)
    out = []
    for i in range(len(poses)):
        joints = gt['joints'][i].copy()
        rare = i in RARE_IDS
        if rare:
            joints[1:] += [0.0, 0.0, RARE_ERROR_MM / 1000]
        out.append(make_sample(poses[i], betas[i], joints, gt['vertices'][i], id=i,
                               clip='rare' if rare else 'common', is_rare=float(rare)))
    return out


def _metric(body_model_files, **kwargs):
    cfg = dict(type='PoseRarity', protocol='smpl24',
               body_model=dict(model_path=body_model_files['model_path']),
               mean_params=body_model_files['mean_params'])
    cfg.update(kwargs)
    return METRICS.build(cfg)


def test_mesh_rarity_tail_common_balanced_groups(body_model_files, make_sample, smpl_forward, tmp_path):
    poses = _planted(body_model_files)
    metric = _metric(body_model_files, out_dir=str(tmp_path), model_name='hmr', num_bins=2)
    samples = _samples(make_sample, smpl_forward, poses)
    metric.process({}, samples[:7])
    metric.process({}, samples[7:])
    scores = np.array([r['rarity'] for r in metric.results])
    assert set(np.argsort(-scores)[:2]) == set(RARE_IDS)
    assert scores[RARE_IDS[0]] > 3 * np.delete(scores, RARE_IDS).max()
    out = metric.evaluate(len(samples))
    err = RARE_ERROR_MM * 23 / 24
    assert out['rarity/tail10_MPJPE'] == pytest.approx(err, abs=1e-3)  # exactly the 2 planted
    assert out['rarity/tail5_MPJPE'] == pytest.approx(err, abs=1e-3)
    assert out['rarity/common_MPJPE'] == pytest.approx(0.0, abs=1e-3)
    assert out['rarity/all_MPJPE'] == pytest.approx(err * 2 / 20, abs=1e-3)
    # 2 bins: the 18 common poses in the low bin (mean 0), the 2 planted in the high one -> (0 + err) / 2
    assert out['rarity/balanced_MPJPE'] == pytest.approx(err / 2, abs=1e-3)
    assert out['rarity/clip=rare_MPJPE'] == pytest.approx(err, abs=1e-3)
    assert out['rarity/is_rare=1_MPJPE'] == pytest.approx(err, abs=1e-3)
    assert out['rarity/is_rare=0_count'] == 18.0
    assert out['rarity/num_tail10'] == 2.0 and out['rarity/num_tail5'] == 1.0
    assert all(isinstance(v, float) for v in out.values())
    data = json.loads((tmp_path / 'rarity_hmr.json').read_text())
    assert data['model_name'] == 'hmr' and len(data['samples']) == 20
    assert data['samples'][RARE_IDS[0]]['rarity'] == pytest.approx(scores[RARE_IDS[0]])
    assert (tmp_path / 'rarity_hmr.png').stat().st_size > 5000


def test_nothing_written_without_out_dir(body_model_files, make_sample, smpl_forward, tmp_path,
                                         monkeypatch):
    monkeypatch.chdir(tmp_path)
    poses = _planted(body_model_files)[:4]
    metric = _metric(body_model_files, metrics=('MPJPE', ))
    metric.process({}, _samples(make_sample, smpl_forward, poses))
    out = metric.evaluate(4)
    assert 'rarity/tail10_MPJPE' in out and 'rarity/balanced_PVE' not in out
    assert list(tmp_path.iterdir()) == []


def test_prototype_and_knn_rarity(body_model_files, make_sample, smpl_forward, tmp_path):
    from pmnet_plugin.utils.rotation import axis_angle_to_matrix, matrix_to_rot6d
    poses = _planted(body_model_files)
    common = poses[[i for i in range(len(poses)) if i not in RARE_IDS]]
    # prototypes: two of the common poses (rare poses are far from both)
    rot = axis_angle_to_matrix(torch.from_numpy(common[:2].reshape(2, 24, 3)).float())
    proto_file = tmp_path / 'protos.npz'
    np.savez(proto_file, pose_rot6d=matrix_to_rot6d(rot).numpy(), betas=np.zeros((2, 10), np.float32),
             cam=np.zeros((2, 3), np.float32))
    train_file = tmp_path / 'train.npz'
    np.savez(train_file, poses=common.astype(np.float32))
    samples = _samples(make_sample, smpl_forward, poses)
    for kwargs in (dict(rarity='prototype', prototypes=str(proto_file)),
                   dict(rarity='knn', train_poses=str(train_file), knn_k=3)):
        metric = _metric(body_model_files, **kwargs)
        metric.process({}, samples)
        scores = np.array([r['rarity'] for r in metric.results])
        assert set(np.argsort(-scores)[:2]) == set(RARE_IDS), kwargs
        out = metric.evaluate(len(samples))
        assert out['rarity/tail10_MPJPE'] == pytest.approx(RARE_ERROR_MM * 23 / 24, abs=1e-3)
    with pytest.raises(ValueError, match='prototypes'):
        _metric(body_model_files, rarity='prototype')
    with pytest.raises(ValueError, match='rarity'):
        _metric(body_model_files, rarity='density')


def test_unscored_and_nan_samples(body_model_files, make_sample, smpl_forward):
    poses = _planted(body_model_files)[:5]
    samples = _samples(make_sample, smpl_forward, poses)
    samples[0]['pred_instances']['keypoints_3d'][0, 3, 0] = np.nan
    samples.append(make_sample(None, np.zeros(10), np.zeros((24, 3)), np.zeros((6890, 3)),
                               gt_joints=np.zeros((24, 3)), has_smpl=0.0))
    metric = _metric(body_model_files, tail_fractions=(0.5, ))
    metric.process({}, samples)
    out = metric.evaluate(len(samples))
    assert out['rarity/num_nan'] == 1.0 and out['rarity/num_unscored'] == 1.0
    assert out['rarity/num_tail50'] == 3.0  # ceil(0.5 * 5 scored samples; the NaN one is scored too)
    assert np.isfinite(out['rarity/tail50_MPJPE']) and np.isfinite(out['rarity/balanced_PVE'])
