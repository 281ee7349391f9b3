import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from pmnet_plugin.engine.hooks import PrototypeEMAHook
from pmnet_plugin.models.heads import PrototypeMemoryHead
from pmnet_plugin.prototypes import build_prototypes, save_prototypes
from pmnet_plugin.utils.rotation import (axis_angle_to_matrix, matrix_to_axis_angle,
                                         matrix_to_quaternion, quaternion_to_matrix,
                                         rot6d_to_matrix)

K = 4


@pytest.fixture(scope='module')
def proto_file(tmp_path_factory):
    """K=4 prototypes from 4 well-separated planted pose groups."""
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 0.6, (K, 72))
    poses = np.concatenate([c + rng.normal(0, 0.02, (10, 72)) for c in centres])
    path = str(tmp_path_factory.mktemp('protos') / 'protos_k4.npz')
    save_prototypes(path, build_prototypes(poses, k=K, seed=0))
    return path


def _head(head_kwargs, proto_file, **kw):
    return PrototypeMemoryHead(prototype_file=proto_file, num_prototypes=K, selector_hidden=16,
                               **dict(head_kwargs, **kw))


def _plant(head, logits_bias):
    """Zero IEF residuals and make the selector output ``logits_bias`` regardless of the feature."""
    for layer in (head.regressor.dec_pose, head.regressor.dec_betas, head.regressor.dec_cam):
        torch.nn.init.zeros_(layer.weight)
        torch.nn.init.zeros_(layer.bias)
    last = head.selector[-1]
    torch.nn.init.zeros_(last.weight)
    with torch.no_grad():
        last.bias.copy_(torch.as_tensor(logits_bias, dtype=torch.float32))


def test_forward_contract(head_kwargs, proto_file):
    head = _head(head_kwargs, proto_file)
    out = head.forward((torch.randn(3, 32), ))
    assert out['smpl_pose_rotmat'].shape == (3, 24, 3, 3)
    assert out['proto_logits'].shape == (3, K)
    assert out['proto_init_pose'].shape == (3, 24, 3, 3)
    assert 'proto_pose_rot6d' in dict(head.named_buffers())  # lives in checkpoints
    assert 'proto_pose_rot6d' in head.state_dict()


def test_ief_starts_from_selected_prototype(head_kwargs, proto_file):
    head = _head(head_kwargs, proto_file).eval()
    _plant(head, [0.0, 0.0, 5.0, 0.0])
    out = head.forward((torch.randn(2, 32), ))
    protos = head.prototype_rotmats()
    assert torch.allclose(out['smpl_pose_rotmat'][:, 1:], protos[2, 1:].expand(2, -1, -1, -1), atol=1e-5)
    # global orient comes from the mean params, not from the (canonical) prototype
    mean_root = rot6d_to_matrix(head.init_pose_rot6d.reshape(24, 6)[0])
    assert torch.allclose(out['smpl_pose_rotmat'][:, 0], mean_root.expand(2, -1, -1), atol=1e-5)
    assert (out['proto_id'] == 2).all()


def test_blend_equals_hand_computed_average(head_kwargs, proto_file):
    head = _head(head_kwargs, proto_file, init_mode='blend', blend_topk=2).eval()
    _plant(head, [math.log(3.0), 0.0, -20.0, -20.0])  # top-2 = (0, 1) with weights 0.75 / 0.25
    out = head.forward((torch.randn(1, 32), ))
    q = matrix_to_quaternion(head.prototype_rotmats()).double().numpy()  # (K, 24, 4)
    for j in range(1, 24):
        m = 0.75 * np.outer(q[0, j], q[0, j]) + 0.25 * np.outer(q[1, j], q[1, j])
        avg = np.linalg.eigh(m)[1][:, -1]
        expected = quaternion_to_matrix(torch.as_tensor(avg)).float()
        assert torch.allclose(out['proto_init_pose'][0, j], expected, atol=1e-4), j
    assert torch.allclose(out['smpl_pose_rotmat'][0, 1:], out['proto_init_pose'][0, 1:], atol=1e-5)


def test_blend_of_equal_weights_about_one_axis_is_the_mid_angle(head_kwargs, proto_file):
    head = _head(head_kwargs, proto_file, init_mode='blend', blend_topk=2).eval()
    _plant(head, [0.0, 0.0, -20.0, -20.0])
    axis = torch.tensor([0.0, 0.0, 1.0])
    with torch.no_grad():
        for k, angle in ((0, 0.2), (1, 1.0)):
            rot = axis_angle_to_matrix(axis * angle).expand(24, 3, 3)
            head.proto_pose_rot6d[k] = rot[..., :2].reshape(24, 6)
    out = head.forward((torch.randn(1, 32), ))
    expected = axis_angle_to_matrix(axis * 0.6)
    assert torch.allclose(out['proto_init_pose'][0, 5], expected, atol=1e-5)


def test_gradients_reach_features_and_learnable_prototypes(head_kwargs, proto_file, mesh_samples):
    for mode in ('top1', 'blend'):
        head = _head(head_kwargs, proto_file, learnable=True, init_mode=mode,
                     detach_selection=False)
        assert isinstance(head.proto_pose_rot6d, torch.nn.Parameter)
        feat = torch.randn(2, 32, requires_grad=True)
        losses = head.loss((feat, ), mesh_samples(2))
        assert 'loss_proto' in losses
        sum(v for k, v in losses.items() if k.startswith('loss_')).backward()
        assert feat.grad.abs().sum() > 0, mode
        assert head.proto_pose_rot6d.grad is not None and head.proto_pose_rot6d.grad.abs().sum() > 0
        assert torch.isfinite(head.proto_pose_rot6d.grad).all(), mode
        assert head.selector[-1].weight.grad.abs().sum() > 0, mode


def test_assignment_target_is_nearest_prototype_ignoring_global_orient(head_kwargs, proto_file):
    head = _head(head_kwargs, proto_file)
    gt = head.prototype_rotmats()[[3, 1]].clone()
    gt[:, 0] = axis_angle_to_matrix(torch.tensor([[math.pi, 0, 0], [0.3, 1.0, 0.0]]))
    assign = head.assignment(gt)
    assert assign['index'].tolist() == [3, 1]
    assert torch.allclose(assign['soft'].sum(-1), torch.ones(2))
    assert assign['soft'][0].argmax() == 3


def test_soft_assignment_and_predict_extras(head_kwargs, proto_file, mesh_samples):
    head = _head(head_kwargs, proto_file, assign_mode='soft', assign_temperature=2.0)
    losses = head.loss((torch.randn(2, 32), ), mesh_samples(2))
    assert torch.isfinite(losses['loss_proto']) and losses['loss_proto'] >= 0
    head.eval()
    preds = head.predict((torch.randn(2, 32), ), mesh_samples(2))
    assert preds[0].proto_id.shape == (1, ) and preds[0].proto_score.shape == (1, )
    assert 0 < preds[0].proto_score[0] <= 1 and preds[0].proto_score.dtype == np.float32


def test_ema_moves_assigned_prototype_towards_gt(head_kwargs, proto_file, mesh_samples):
    head = _head(head_kwargs, proto_file, ema_momentum=0.5)
    runner, hook = SimpleNamespace(model=head), PrototypeEMAHook()
    hook.before_train(runner)
    before = head.prototype_rotmats().clone()
    target = before[2].clone()
    target[1:] = axis_angle_to_matrix(torch.tensor([0.0, 0.0, 0.05])) @ target[1:]
    pose = matrix_to_axis_angle(target).reshape(1, 72).repeat(2, 1)
    head.loss((torch.randn(2, 32), ), mesh_samples(2, poses=pose))
    assert torch.allclose(head.prototype_rotmats(), before)  # the loss itself does not move them
    hook.after_train_iter(runner, 0)
    after = head.prototype_rotmats()
    dist_before = (before[2, 1:] - target[1:]).norm()
    dist_after = (after[2, 1:] - target[1:]).norm()
    assert dist_after < 0.75 * dist_before
    assert torch.allclose(after[[0, 1, 3]], before[[0, 1, 3]])  # only the assigned one moved
    head.eval()
    frozen = head.prototype_rotmats().clone()
    head.loss((torch.randn(2, 32), ), mesh_samples(2, poses=pose))
    hook.after_train_iter(runner, 1)
    assert torch.allclose(head.prototype_rotmats(), frozen)  # no update outside training


def test_ema_without_hook_is_refused(head_kwargs, proto_file, mesh_samples):
    head = _head(head_kwargs, proto_file, ema_momentum=0.5)
    with pytest.raises(RuntimeError, match='PrototypeEMAHook'):
        head.loss((torch.randn(2, 32), ), mesh_samples(2))


def test_mismatched_prototype_file_is_rejected(head_kwargs, proto_file):
    with pytest.raises(ValueError, match='K=4'):
        PrototypeMemoryHead(prototype_file=proto_file, num_prototypes=8, **head_kwargs)


def test_teacher_forcing_uses_gt_prototype(head_kwargs, proto_file, mesh_samples):
    head = _head(head_kwargs, proto_file, train_init_from_gt=True)
    _plant(head, [5.0, 0.0, 0.0, 0.0])  # the selector prefers prototype 0
    gt = head.prototype_rotmats()[[3, 3]]
    from pmnet_plugin.utils.rotation import matrix_to_axis_angle
    pose = matrix_to_axis_angle(gt).reshape(2, 72)
    feat = torch.randn(2, 32)
    targets = head.gather_targets(mesh_samples(2, poses=pose), feat.device)
    preds = head._forward_for_loss(feat, targets)[0]
    assert torch.allclose(preds['proto_init_pose'][:, 1:], gt[:, 1:], atol=1e-4)


@pytest.mark.parametrize('detach', [True, False])
def test_detach_selection_controls_mesh_loss_gradient_to_selector(head_kwargs, proto_file, mesh_samples,
                                                                  detach):
    kwargs = dict(head_kwargs, loss=dict(type='MeshLoss', proto_weight=0.0))
    head = _head(kwargs, proto_file, init_mode='blend', blend_topk=2, detach_selection=detach)
    losses = head.loss((torch.randn(2, 32), ), mesh_samples(2))
    assert 'loss_proto' not in losses
    sum(v for k, v in losses.items() if k.startswith('loss_')).backward()
    grad = head.selector[-1].weight.grad
    if detach:
        assert grad is None or grad.abs().sum() == 0
    else:
        assert grad is not None and grad.abs().sum() > 0


def test_adversarial_prior_in_pmnet_loss(head_kwargs, proto_file, mesh_samples, real_pose_file):
    loss_cfg = dict(type='MeshLoss', use_adversarial=True, adversarial_weight=1.0,
                    real_pose_file=real_pose_file)
    head = _head(head_kwargs, proto_file, loss=loss_cfg)
    losses = head.loss((torch.randn(2, 32), ), mesh_samples(2))
    assert {'loss_adv', 'loss_disc', 'loss_proto'} <= set(losses)
    assert torch.isfinite(losses['loss_adv']) and torch.isfinite(losses['loss_disc'])


def test_selector_reads_only_its_channels(head_kwargs, proto_file):
    head = _head(head_kwargs, proto_file, selector_channels=(8, 32)).eval()
    assert head.selector[0].in_features == 24
    feat = torch.randn(3, 32)
    other = feat.clone()
    other[:, :8] = torch.randn(3, 8)  # outside the selector's channels: same scores, different IEF input
    assert torch.equal(head.selector_logits(feat), head.selector_logits(other))
    assert not torch.allclose(head.forward((feat, ))['smpl_pose_rotmat'], head.forward((other, ))['smpl_pose_rotmat'])
    inside = feat.clone()
    inside[:, 8:] = torch.randn(3, 24)
    assert not torch.allclose(head.selector_logits(feat), head.selector_logits(inside))
    with pytest.raises(ValueError, match='selector_channels'):
        _head(head_kwargs, proto_file, selector_channels=(8, 33))


def test_tilt_prototypes_start_ief_from_their_orientation(head_kwargs, tmp_path):
    rng = np.random.default_rng(0)
    poses = rng.normal(0, 0.3, (40, 72))
    poses[:20, :3] = [math.pi, 0.0, 0.0]  # upright facing the camera (camera y down)
    poses[20:, :3] = [math.pi / 2, 0.0, 0.0]  # lying
    path = str(tmp_path / 'tilt.npz')
    save_prototypes(path, build_prototypes(poses, k=K, seed=0, tilt_weight=5.0))
    head = _head(head_kwargs, path, tilt_weight=5.0).eval()
    for k in range(K):
        _plant(head, [5.0 if j == k else 0.0 for j in range(K)])
        out = head.forward((torch.randn(2, 32), ))
        assert torch.allclose(out['smpl_pose_rotmat'], head.prototype_rotmats()[k].expand(2, -1, -1, -1), atol=1e-5)
    roots = head.prototype_rotmats()[:, 0]
    assert (roots - roots[:1]).abs().amax() > 0.5  # not every prototype has the same orientation
    gt = axis_angle_to_matrix(torch.as_tensor(poses[[0, 25]], dtype=torch.float32).reshape(2, 24, 3))
    index = head.assignment(gt)['index']
    assert torch.allclose(head.prototype_rotmats()[index, 0], head.canonical(gt)[:, 0], atol=0.35)
    with pytest.raises(ValueError, match='tilt_weight'):
        _head(head_kwargs, path)  # the file was clustered with the tilt, the head without
    with pytest.raises(ValueError, match='tilt_weight must be >= 0'):
        _head(head_kwargs, path, tilt_weight=-1.0)


# ---------------------------------------------------------------- where IEF starts: assignment space, oracle, rerank
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
    _plant(head, [5.0, 0.0, 0.0, 0.0])  # the selector always picks prototype 0
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


def test_rerank_starts_from_the_candidate_that_fits_the_heatmaps(head_kwargs, proto_file):
    head = _head(head_kwargs, proto_file, rerank_topk=K).eval()
    _plant(head, [3.0, 2.0, 1.0, 0.0])  # the selector ranks 0 > 1 > 2 > 3
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
