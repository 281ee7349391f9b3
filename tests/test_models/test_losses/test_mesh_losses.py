import pytest
import torch
import torch.nn.functional as F
from mmpose.registry import MODELS

import pmnet_plugin.models.losses  # noqa: F401  (registers MeshLoss)
from pmnet_plugin.utils.rotation import axis_angle_to_matrix


def _pair(B=2, K=5, seed=0):
    g = torch.Generator().manual_seed(seed)
    rot = axis_angle_to_matrix(torch.randn(B, 24, 3, generator=g) * 0.3)
    joints = torch.randn(B, 24, 3, generator=g)
    pred = dict(smpl_pose_rotmat=rot, smpl_betas=torch.randn(B, 10, generator=g),
                cam=torch.tensor([[0.9, 0.0, 0.0]] * B), keypoints_3d=joints,
                keypoint_labels=torch.rand(B, 24, 2, generator=g),
                vertices=torch.randn(B, 50, 3, generator=g),
                proto_logits=torch.randn(B, K, generator=g))
    target = dict(smpl_pose_rotmat=rot.clone(), smpl_betas=pred['smpl_betas'].clone(),
                  keypoints_3d=joints - joints[:, :1], keypoints_3d_weights=torch.ones(B, 24),
                  keypoint_labels=pred['keypoint_labels'].clone(), keypoint_weights=torch.ones(B, 24),
                  vertices=pred['vertices'].clone(), has_smpl=torch.ones(B),
                  proto_target=torch.zeros(B, dtype=torch.long))
    return pred, target


def test_perfect_prediction_gives_zero_regression_losses():
    loss = MODELS.build(dict(type='MeshLoss', vertices_weight=1.0))
    pred, target = _pair()
    out = loss(pred, target)
    for name in ('loss_keypoints_3d', 'loss_keypoint_labels', 'loss_smpl_pose', 'loss_smpl_betas',
                 'loss_vertices'):
        assert out[name].item() == pytest.approx(0.0, abs=1e-10), name
    # SPIN camera regulariser, weight 60
    assert out['loss_cam'].item() == pytest.approx(60 * torch.exp(torch.tensor(-9.0)).item()**2)


def test_masks_and_weights():
    loss = MODELS.build(dict(type='MeshLoss', keypoint_labels_weight=2.0, cam_weight=0.0))
    pred, target = _pair()
    pred['keypoint_labels'][:, 3] += 1.0  # error only on joint 3
    target['keypoint_weights'][:, 3] = 0.0
    assert loss(pred, target)['loss_keypoint_labels'].item() == pytest.approx(0.0, abs=1e-10)
    target['keypoint_weights'][:, 3] = 1.0
    # mean over labelled entries: 2 samples x 1 joint x 2 coords of error 1 among 2*24*2 entries
    assert loss(pred, target)['loss_keypoint_labels'].item() == pytest.approx(2.0 * 4 / 96)
    pred['smpl_pose_rotmat'] = pred['smpl_pose_rotmat'] * 0
    target['has_smpl'] = torch.zeros(2)
    out = loss(pred, target)
    assert out['loss_smpl_pose'].item() == 0.0 and 'loss_cam' not in out


def test_assignment_losses_match_reference():
    loss = MODELS.build(dict(type='MeshLoss'))
    pred, target = _pair()
    ce = F.cross_entropy(pred['proto_logits'], target['proto_target'])
    assert loss(pred, target)['loss_proto'].item() == pytest.approx(ce.item(), rel=1e-5)
    target['proto_target'] = F.softmax(pred['proto_logits'], -1)  # soft target == prediction
    assert loss(pred, target)['loss_proto'].item() == pytest.approx(0.0, abs=1e-6)


def test_non_finite_term_is_named():
    loss = MODELS.build(dict(type='MeshLoss'))
    pred, target = _pair()
    pred['smpl_betas'][0, 0] = float('nan')
    with pytest.raises(RuntimeError, match='loss_smpl_betas'):
        loss(pred, target)


def test_adversarial_flag_needs_weight():
    with pytest.raises(ValueError, match='adversarial_weight'):
        MODELS.build(dict(type='MeshLoss', use_adversarial=True))
    with pytest.raises(ValueError, match='adversarial_weight'):
        MODELS.build(dict(type='MeshLoss', adversarial_weight=1.0))
    off = MODELS.build(dict(type='MeshLoss'))
    assert off.discriminator is None and 'loss_adv' not in off(*_pair())


def test_adversarial_gradients_are_separated(real_pose_file):
    """D's parameters learn only from loss_disc, the predictions only from loss_adv."""
    loss = MODELS.build(dict(type='MeshLoss', use_adversarial=True, adversarial_weight=0.5,
                             discriminator_weight=2.0, real_pose_file=real_pose_file))
    d_params = list(loss.discriminator.parameters())
    aa = (torch.randn(3, 24, 3) * 0.3).requires_grad_()
    pred, target = _pair(B=3)
    pred['smpl_pose_rotmat'] = axis_angle_to_matrix(aa)
    pred['smpl_betas'] = pred['smpl_betas'].clone().requires_grad_()
    out = loss(pred, target)
    assert {'loss_adv', 'loss_disc', 'acc_disc'} <= set(out)
    assert torch.isfinite(out['loss_adv']) and torch.isfinite(out['loss_disc'])
    assert 0.0 <= out['acc_disc'].item() <= 1.0 and not out['acc_disc'].requires_grad

    out['loss_adv'].backward(retain_graph=True)
    assert aa.grad.abs().sum() > 0 and pred['smpl_betas'].grad.abs().sum() > 0
    assert aa.grad[:, 0].abs().sum() == 0  # global orient is not judged
    assert all(p.grad is None for p in d_params)

    aa.grad, pred['smpl_betas'].grad = None, None
    out['loss_disc'].backward()
    assert aa.grad is None and pred['smpl_betas'].grad is None
    assert all(p.grad is not None for p in d_params)
    assert sum(p.grad.abs().sum() for p in d_params) > 0


def test_default_terms_have_no_parameters():
    """Without ``keypoints_3d_loss`` / ``smpl_pose_loss`` the module holds no parameters or state."""
    loss = MODELS.build(dict(type='MeshLoss'))
    assert list(loss.parameters()) == [] and loss.state_dict() == {}
    assert not any(k.startswith('noise_sigma') for k in loss(*_pair()))


def test_balanced_mse_replaces_the_regression_terms():
    from pmnet_plugin.models.losses.mesh_losses import root_relative
    bmc = dict(type='BalancedMSELoss', init_noise_sigma=3.0)
    loss = MODELS.build(dict(type='MeshLoss', keypoints_3d_loss=bmc, smpl_pose_loss=dict(bmc, init_noise_sigma=1.5)))
    plain = MODELS.build(dict(type='MeshLoss'))
    pred, target = _pair(B=4)
    pred['keypoints_3d'] = pred['keypoints_3d'] + 0.1 * torch.randn(4, 24, 3)
    pred['smpl_pose_rotmat'] = pred['smpl_pose_rotmat'] + 0.1 * torch.randn(4, 24, 3, 3)
    target['keypoints_3d_weights'][1, :5] = 0
    target['has_smpl'][2] = 0
    out, ref = loss(pred, target), plain(pred, target)
    root = torch.zeros(4, 24)
    root[:, 0] = 1
    bmc_loss = MODELS.build(bmc)(root_relative(pred['keypoints_3d'], root),
                                 root_relative(target['keypoints_3d'], root), target['keypoints_3d_weights'])
    rot = MODELS.build(dict(bmc, init_noise_sigma=1.5))(pred['smpl_pose_rotmat'], target['smpl_pose_rotmat'],
                                                        target['has_smpl'])
    assert out['loss_keypoints_3d'].item() == pytest.approx(5.0 * bmc_loss.item(), rel=1e-6)
    assert out['loss_smpl_pose'].item() == pytest.approx(rot.item(), rel=1e-6)
    assert abs(out['loss_keypoints_3d'].item() - ref['loss_keypoints_3d'].item()) > 1e-4
    for name in ('loss_keypoint_labels', 'loss_smpl_betas', 'loss_cam'):
        assert out[name].item() == ref[name].item(), name
    assert out['noise_sigma_keypoints_3d'].item() == pytest.approx(3.0)
    assert out['noise_sigma_smpl_pose'].item() == pytest.approx(1.5)
    assert sorted(loss.state_dict()) == ['regression_losses.keypoints_3d.noise_sigma',
                                         'regression_losses.smpl_pose.noise_sigma']
    (out['loss_keypoints_3d'] + out['loss_smpl_pose']).backward()
    assert all(p.grad is not None and p.grad.abs() > 0 for p in loss.parameters())
