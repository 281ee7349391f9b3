"""Where PM-Net's IEF starts: joint-space assignment and the oracle prototype at test."""
import numpy as np
import pytest
import torch

from pmnet_plugin.models.heads import PrototypeMemoryHead
from pmnet_plugin.prototypes import build_prototypes, save_prototypes
from pmnet_plugin.utils.rotation import axis_angle_to_matrix, matrix_to_axis_angle, rot6d_to_matrix

K = 4


@pytest.fixture(scope='module')
def proto_file(tmp_path_factory):
    rng = np.random.default_rng(1)
    centres = rng.normal(0, 0.6, (K, 72))
    poses = np.concatenate([c + rng.normal(0, 0.02, (10, 72)) for c in centres])
    path = str(tmp_path_factory.mktemp('protos') / 'protos_k4.npz')
    save_prototypes(path, build_prototypes(poses, k=K, seed=0))
    return path


def _head(head_kwargs, proto_file, **kw):
    return PrototypeMemoryHead(prototype_file=proto_file, num_prototypes=K, selector_hidden=16,
                               **dict(head_kwargs, **kw))


def test_joint_space_assignment_is_the_nearest_in_joint_distance(head_kwargs, proto_file):
    head = _head(head_kwargs, proto_file, assign_space='joints')
    protos = head.prototype_rotmats()
    gt = protos[1:2].clone()
    got = head.assignment(gt)
    assert got['index'].tolist() == [1]
    assert got['dist'][0, 1] < 1e-6
    joints = head.canonical_joints(torch.cat([gt, protos]))
    d = torch.linalg.norm(joints[:1, None] - joints[None, 1:], dim=-1).mean(-1)
    assert torch.allclose(got['dist'], d, atol=1e-6)
    assert torch.allclose(got['soft'].sum(1), torch.ones(1))


def test_joint_space_ignores_a_twist_that_rotation_space_counts(head_kwargs, proto_file):
    rot_head = _head(head_kwargs, proto_file)
    joint_head = _head(head_kwargs, proto_file, assign_space='joints')
    pose = rot_head.prototype_rotmats()[2:3].clone()
    # turn the head and the hands (joints 15, 22, 23): leaves of the chain, so no SMPL joint moves
    turn = axis_angle_to_matrix(torch.tensor([1.5, 0.0, 0.0]))
    pose[:, [15, 22, 23]] = turn @ pose[:, [15, 22, 23]]
    assert rot_head.assignment(pose)['dist'][0, 2] > 1.0
    assert joint_head.assignment(pose)['dist'][0, 2] < 1e-5


def test_oracle_prototype_at_test_starts_from_the_gt_nearest(head_kwargs, proto_file, mesh_samples):
    head = _head(head_kwargs, proto_file).eval()
    for layer in (head.regressor.dec_pose, head.regressor.dec_betas, head.regressor.dec_cam):
        torch.nn.init.zeros_(layer.weight)
        torch.nn.init.zeros_(layer.bias)
    last = head.selector[-1]
    torch.nn.init.zeros_(last.weight)
    with torch.no_grad():
        last.bias.copy_(torch.tensor([5.0, 0.0, 0.0, 0.0]))  # the selector always picks prototype 0
    protos = head.prototype_rotmats()
    poses = matrix_to_axis_angle(protos[[3, 1]]).reshape(2, 72)
    samples = mesh_samples(2, poses=poses)
    learned = head.predict((torch.randn(2, 32), ), samples)
    oracle = head.predict((torch.randn(2, 32), ), samples, test_cfg=dict(oracle_prototype=True))
    assert [int(p.proto_id[0]) for p in learned] == [0, 0]
    assert [int(p.proto_id[0]) for p in oracle] == [3, 1]
    body = axis_angle_to_matrix(torch.from_numpy(oracle[0].smpl_pose.reshape(24, 3)))[1:]
    assert torch.allclose(body, protos[3, 1:], atol=1e-4)


def test_assign_space_is_checked(head_kwargs, proto_file):
    with pytest.raises(ValueError, match='assign_space'):
        _head(head_kwargs, proto_file, assign_space='pixels')


def _zero_ief_and_bias_selector(head, bias):
    for layer in (head.regressor.dec_pose, head.regressor.dec_betas, head.regressor.dec_cam):
        torch.nn.init.zeros_(layer.weight)
        torch.nn.init.zeros_(layer.bias)
    last = head.selector[-1]
    torch.nn.init.zeros_(last.weight)
    with torch.no_grad():
        last.bias.copy_(torch.tensor(bias))


def test_rerank_starts_from_the_candidate_that_fits_the_heatmaps(head_kwargs, proto_file):
    head = _head(head_kwargs, proto_file, rerank_topk=K).eval()
    _zero_ief_and_bias_selector(head, [3.0, 2.0, 1.0, 0.0])  # the selector ranks 0 > 1 > 2 > 3
    feat = torch.randn(1, 32)
    # heatmaps peaked where prototype 2's joints project (IEF residuals are zero: the result is the start)
    start = head._initial_estimate(feat, torch.tensor([2]))
    joints = head.run_body_model(rot6d_to_matrix(start['pose_rot6d'].reshape(1, 24, 6)), start['betas'],
                                 vertices=False, regressed=False)['joints'][:, :24]
    uv = head.project(joints, start['cam'])[0]  # (24, 2) in [-1, 1]
    size = 64
    heatmaps = torch.zeros(1, 24, size, size)
    cells = ((uv + 1) / 2 * size).floor().long().clamp(0, size - 1)
    heatmaps[0, torch.arange(24), cells[:, 1], cells[:, 0]] = 10.0
    init = head._test_init((heatmaps, feat), feat)
    assert init['proto_id'].tolist() == [2]
    plain = _head(head_kwargs, proto_file).eval()
    assert plain._test_init((heatmaps, feat), feat) is None  # rerank_topk=0: the selector's top-1
    with pytest.raises(ValueError, match='heatmaps'):
        head._test_init((feat, ), feat)
