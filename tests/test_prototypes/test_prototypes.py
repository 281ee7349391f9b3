import math

import numpy as np
import pytest
import torch
from tool_loader import load_tool

from pmnet_plugin.prototypes import (balanced_sample_weights, build_prototypes, kmeans,
                                     load_pose_source, load_prototypes, save_prototypes)
from pmnet_plugin.prototypes.geometry import body_chordal_distance, canonical_rotmats
from pmnet_plugin.utils.rotation import axis_angle_to_matrix, rot6d_to_matrix


def _two_cluster_poses(n_a=30, n_b=6, seed=0):
    """Planted set: a common pose A (n_a noisy copies) and a rare pose B (n_b), random orients."""
    rng = np.random.default_rng(seed)
    a, b = np.zeros(72), np.zeros(72)
    a[3 * 16 + 2], a[3 * 17 + 2] = -1.2, 1.2  # arms down
    b[3 * 1], b[3 * 2], b[3 * 4] = -1.5, -1.5, 1.5  # legs raised (rare)
    poses = np.concatenate([a + rng.normal(0, 0.03, (n_a, 72)), b + rng.normal(0, 0.03, (n_b, 72))])
    poses[:, :3] = rng.normal(0, 1.0, (len(poses), 3))  # global orient must not matter
    is_rare = np.r_[np.zeros(n_a), np.ones(n_b)].astype(bool)
    return poses.astype(np.float32), is_rare, a, b


def test_kmeans_recovers_planted_pose_clusters():
    poses, is_rare, a, b = _two_cluster_poses()
    protos = build_prototypes(poses, k=2, seed=0, is_rare=is_rare)
    assert sorted(protos['counts'].tolist()) == [6, 30]
    assert sorted(protos['rare_fraction'].tolist()) == [0.0, 1.0]
    rot = rot6d_to_matrix(torch.as_tensor(protos['pose_rot6d']))
    ref = canonical_rotmats(torch.as_tensor(np.stack([a, b]), dtype=torch.float32))
    d = body_chordal_distance(ref, rot)  # (2 planted, 2 prototypes)
    assert d.min(1).values.max() < 0.05  # each planted pose has a prototype on top of it
    assert torch.allclose(rot[:, 0], torch.eye(3).expand(2, 3, 3), atol=1e-6)
    rrt = rot @ rot.transpose(-1, -2)  # Markley averages stay on SO(3)
    assert torch.allclose(rrt, torch.eye(3).expand_as(rrt), atol=1e-5)


def test_kmeans_plain_features_and_determinism():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(0, 0.1, (20, 3)), rng.normal(5, 0.1, (20, 3))])
    c1, l1 = kmeans(x, 2, seed=3)
    c2, l2 = kmeans(x, 2, seed=3)
    assert np.array_equal(l1, l2) and np.allclose(c1, c2)
    assert len(set(l1[:20])) == 1 and len(set(l1[20:])) == 1 and l1[0] != l1[-1]
    with pytest.raises(ValueError, match='k <= N'):
        kmeans(x, 41)


def test_kmeans_labels_are_the_nearest_centres_by_direct_numpy():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(300, 207)) + rng.integers(0, 4, size=(300, 1)) * 2.0
    w = rng.uniform(0.1, 2.0, size=300)
    centres, labels = kmeans(x, 6, w, seed=1)
    assert centres.shape == (6, 207) and centres.dtype == np.float64 and labels.dtype == np.int64
    sq = ((x[:, None] - centres[None])**2).sum(-1)  # (N, K)
    assert np.array_equal(labels, sq.argmin(1))


def test_balanced_weights_favour_sparse_regions():
    poses, is_rare, _, _ = _two_cluster_poses(n_a=40, n_b=4)
    feats = canonical_rotmats(torch.as_tensor(poses)).reshape(len(poses), -1).numpy()
    w = balanced_sample_weights(feats, num_fine=2)
    assert np.isclose(w.mean(), 1.0)
    assert w[is_rare].min() > 5 * w[~is_rare].max()
    protos = build_prototypes(poses, k=3, balanced=True, seed=0, is_rare=is_rare)
    assert str(protos['method']) == 'balanced_kmeans'
    assert (protos['rare_fraction'] == 1.0).any()


def test_distance_ignores_global_orient():
    # float64: the expanded squared distance cancels to ~1e-5 in float32
    pose = torch.randn(1, 72, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 0.3
    other = pose.clone()
    other[:, :3] = torch.tensor([math.pi, 0.2, 0.0])
    d = body_chordal_distance(canonical_rotmats(pose), canonical_rotmats(other))
    assert d.item() < 1e-8
    moved = other.clone()
    moved[:, 10] += 0.5
    assert body_chordal_distance(canonical_rotmats(pose), canonical_rotmats(moved)).item() > 0.1


def test_file_round_trip_and_rejections(tmp_path):
    poses, is_rare, _, _ = _two_cluster_poses()
    path = str(tmp_path / 'sub' / 'p.npz')
    save_prototypes(path, build_prototypes(poses, k=2, cam=np.array([0.8, 0.0, 0.1])))
    d = load_prototypes(path)
    assert d['pose_rot6d'].shape == (2, 24, 6) and d['betas'].shape == (2, 10)
    assert np.allclose(d['cam'], [[0.8, 0.0, 0.1]] * 2)
    assert int(d['K']) == 2 and int(d['num_joints']) == 24 and int(d['num_vertices']) == 6890
    with pytest.raises(FileNotFoundError, match='build_prototypes'):
        load_prototypes(str(tmp_path / 'missing.npz'))
    np.savez(tmp_path / 'bad.npz', pose_rot6d=np.zeros((2, 24, 9)), betas=np.zeros((2, 10)),
             cam=np.zeros((2, 3)))
    with pytest.raises(ValueError, match='pose_rot6d'):
        load_prototypes(str(tmp_path / 'bad.npz'))


def test_humandata_source(tmp_path):
    poses, is_rare, _, _ = _two_cluster_poses()
    smpl = dict(global_orient=poses[:, :3], body_pose=poses[:, 3:].reshape(-1, 23, 3),
                betas=np.ones((len(poses), 10), np.float32))
    np.savez(tmp_path / 'hd.npz', smpl=np.array(smpl, dtype=object), is_rare=is_rare)
    src = load_pose_source(str(tmp_path / 'hd.npz'))
    assert np.allclose(src['poses'], poses) and src['is_rare'].sum() == is_rare.sum()
    protos = build_prototypes(src['poses'], k=2, betas=src['betas'])
    assert np.allclose(protos['betas'], 1.0)


def test_cli_writes_prototype_file(tmp_path, capsys):
    tool = load_tool('build_prototypes')
    poses, is_rare, _, _ = _two_cluster_poses()
    np.savez(tmp_path / 'lib.npz', poses=poses, is_rare=is_rare)
    out = str(tmp_path / 'protos.npz')
    tool.main(['--poses', str(tmp_path / 'lib.npz'), '--k', '2', '--out', out, '--balanced'])
    printed = capsys.readouterr().out
    assert 'rare=1.00' in printed and 'balanced_kmeans' in printed
    d = load_prototypes(out)
    assert str(d['method']) == 'balanced_kmeans' and int(d['num_samples']) == len(poses)
    root = axis_angle_to_matrix(torch.zeros(3))
    assert torch.allclose(rot6d_to_matrix(torch.as_tensor(d['pose_rot6d'][:, 0])), root, atol=1e-6)


def test_data_mean_params_is_the_mean_body_pose_in_spin_format(tmp_path):
    """Identical body poses average to themselves; the file loads as SPIN mean params."""
    from pmnet_plugin.models.body_models import load_mean_params
    from pmnet_plugin.prototypes import data_mean_params
    rng = np.random.default_rng(0)
    body = rng.normal(0, 0.3, (1, 69)).astype(np.float32)
    orients = rng.normal(0, 1.0, (5, 3)).astype(np.float32)  # global orient must not matter
    poses = np.concatenate([orients, np.repeat(body, 5, 0)], 1)
    orient = axis_angle_to_matrix(torch.tensor([[np.pi, 0., 0.]])).numpy()[0]
    params = data_mean_params(poses, orient, np.array([0.9, 0., 0.]))
    np.savez(tmp_path / 'mean.npz', **params)
    loaded = load_mean_params(str(tmp_path / 'mean.npz'))
    rot = rot6d_to_matrix(torch.as_tensor(loaded['pose_rot6d']))
    expected = axis_angle_to_matrix(torch.as_tensor(body.reshape(23, 3)))
    assert torch.allclose(rot[1:], expected, atol=1e-5)
    assert torch.allclose(rot[0], torch.as_tensor(orient), atol=1e-5)
    np.testing.assert_allclose(loaded['cam'], [0.9, 0., 0.])
