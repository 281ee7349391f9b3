"""Pose rarity of predictions: the PoseRarity axis, training percentiles, buffer in checkpoints."""
import warnings

import numpy as np
import pytest
import torch

from pmnet_plugin.models.rarity import (NUM_RARITY_QUANTILES, PoseRarityScorer, percentile_of,
                                        rarity_levels)
from pmnet_plugin.utils.rotation import axis_angle_to_matrix


@pytest.fixture(scope='module')
def body(body_model_files):
    from pmnet_plugin.models.body_models import SMPLBodyModel
    return SMPLBodyModel(body_model_files['model_path']).eval()


def _mean_tensors(mean_params: str):
    from pmnet_plugin.models.body_models.smpl_io import load_mean_params
    mp = load_mean_params(mean_params)
    return torch.from_numpy(mp['pose_rot6d']).reshape(1, -1), torch.from_numpy(mp['betas'])[None]


def test_percentile_of_inverts_np_percentile():
    data = np.random.default_rng(0).gamma(2.0, 10.0, 5000)
    q = torch.from_numpy(np.percentile(data, rarity_levels())).float()
    probe = np.array([5.0, 17.0, 40.0, 80.0])
    got = percentile_of(torch.tensor(probe, dtype=torch.float32), q).numpy()
    expected = np.array([(data < v).mean() * 100 for v in probe])
    np.testing.assert_allclose(got, expected, atol=0.2)
    ends = percentile_of(torch.tensor([-1.0, 1e9]), q).numpy()
    np.testing.assert_allclose(ends, [0.0, 100.0])


def test_scorer_is_the_pose_rarity_axis(body_model_files, body, rarity_poses):
    """The scorer's rarity equals the PoseRarity evaluator's score of the same poses (mesh, mm)."""
    from mmpose.registry import METRICS

    import pmnet_plugin  # noqa: F401
    poses = rarity_poses(body_model_files['mean_params'], 5, 0.4, seed=1)
    metric = METRICS.build(dict(type='PoseRarity', protocol='smpl24', mean_params=body_model_files[
        'mean_params'], body_model=dict(model_path=body_model_files['model_path'])))
    expected = metric.rarity_scores([dict(has_smpl=True, gt_pose=p) for p in poses])
    pose_rot6d, betas = _mean_tensors(body_model_files['mean_params'])
    rot = axis_angle_to_matrix(torch.from_numpy(poses).float().reshape(5, 24, 3))
    rot[:, 0] = axis_angle_to_matrix(torch.tensor([0.3, 1.0, -0.2]))  # the global orient does not count
    with torch.no_grad():
        got = PoseRarityScorer()(body, rot, pose_rot6d, betas)
    np.testing.assert_allclose(got['rarity'].numpy(), expected, rtol=1e-4, atol=1e-3)
    assert torch.isnan(got['rarity_percentile']).all()  # no table: unknown


def test_build_prototypes_writes_quantiles_and_rarer_poses_score_higher(body_model_files, body,
                                                                        rarity_file, rarity_poses):
    from pmnet_plugin.models.rarity import load_rarity_quantiles
    table = load_rarity_quantiles(rarity_file)
    q = table['quantiles']
    assert q.shape == (NUM_RARITY_QUANTILES, ) and np.all(np.diff(q) >= 0) and q[0] > 0
    with np.load(rarity_file) as f:
        assert int(f['rarity_num_poses']) == 200 and 'pose_rot6d' in f.files  # prototypes still there
    scorer = PoseRarityScorer(rarity_file)
    pose_rot6d, betas = _mean_tensors(body_model_files['mean_params'])
    # the same random directions, scaled: 0 = the mean pose, then ever rarer poses
    base = rarity_poses(body_model_files['mean_params'], 1, 0.1, seed=7)
    mean = rarity_poses(body_model_files['mean_params'], 1, 0.0, seed=7)
    scales = [0.0, 0.5, 1.0, 2.0, 4.0]
    poses = np.concatenate([mean + s * (base - mean) for s in scales])
    with torch.no_grad():
        out = scorer(body, axis_angle_to_matrix(torch.from_numpy(poses).float().reshape(-1, 24, 3)),
                     pose_rot6d, betas)
    rarity, pct = out['rarity'].numpy(), out['rarity_percentile'].numpy()
    assert rarity[0] < 1e-3 and np.all(np.diff(rarity) > 0)
    assert np.all(np.diff(pct) >= 0) and pct[0] == 0.0 and pct[-1] == 100.0
    assert 0 < pct[2] < 100  # a pose like the training ones lands inside the distribution


def test_table_travels_in_checkpoints_and_old_ones_still_load(rarity_file):
    trained = PoseRarityScorer(rarity_file)
    state = trained.state_dict()
    assert 'quantiles' in state and (state['quantiles'] >= 0).all()
    fresh = PoseRarityScorer()
    assert not fresh.has_percentiles and torch.isfinite(fresh.quantiles).all()  # no NaN in checkpoints
    fresh.load_state_dict(state)  # strict
    assert fresh.has_percentiles and torch.equal(fresh.quantiles, trained.quantiles)
    old = torch.nn.Sequential(PoseRarityScorer(rarity_file))
    result = old.load_state_dict({}, strict=False)
    assert result.missing_keys == [] and old[0].has_percentiles  # keeps the file's table


def test_missing_or_foreign_tables_warn_with_the_fix(tmp_path, rarity_file, body_model_files):
    with pytest.warns(UserWarning, match='build_prototypes.py'):
        assert not PoseRarityScorer(str(tmp_path / 'none.npz')).has_percentiles
    bare = str(tmp_path / 'no_rarity.npz')
    np.savez(bare, pose_rot6d=np.zeros((2, 24, 6)))
    with pytest.warns(UserWarning, match='--body-model'):
        assert not PoseRarityScorer(bare).has_percentiles
    from pmnet_plugin.models.body_models.smpl_io import load_mean_params
    from pmnet_plugin.utils.rotation import matrix_to_rot6d
    mp = load_mean_params(body_model_files['mean_params'])
    bent = axis_angle_to_matrix(torch.tensor([0.5, 0.0, 0.0])).expand(24, 3, 3)
    other_pose = matrix_to_rot6d(bent).numpy()  # every joint bent by 0.5 rad: not the file's mean pose
    with pytest.warns(UserWarning, match='mean pose'):
        PoseRarityScorer(rarity_file, mean_pose_rot6d=other_pose)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        PoseRarityScorer(rarity_file, mean_pose_rot6d=mp['pose_rot6d'], mean_betas=mp['betas'])
