import numpy as np
import pytest
import torch

from pmnet_plugin.models.body_models.smpl_io import load_mean_params
from pmnet_plugin.models.heads import HMRHead
from pmnet_plugin.utils.rotation import rot6d_to_matrix


def _zero_ief_outputs(head):
    for layer in (head.regressor.dec_pose, head.regressor.dec_betas, head.regressor.dec_cam):
        torch.nn.init.zeros_(layer.weight)
        torch.nn.init.zeros_(layer.bias)


def test_forward_shapes_and_rotations(head_kwargs):
    head = HMRHead(**head_kwargs)
    out = head.forward((torch.randn(3, 32), ))
    assert out['smpl_pose_rotmat'].shape == (3, 24, 3, 3)
    assert out['smpl_betas'].shape == (3, 10)
    assert out['cam'].shape == (3, 3)
    rrt = out['smpl_pose_rotmat'] @ out['smpl_pose_rotmat'].transpose(-1, -2)
    assert torch.allclose(rrt, torch.eye(3).expand_as(rrt), atol=1e-5)


def test_zero_residuals_give_mean_params(head_kwargs, body_model_files):
    head = HMRHead(**head_kwargs).eval()
    _zero_ief_outputs(head)
    out = head.forward((torch.randn(2, 32), ))
    mean = load_mean_params(body_model_files['mean_params'])
    expected = rot6d_to_matrix(torch.as_tensor(mean['pose_rot6d']).float())
    assert torch.allclose(out['smpl_pose_rotmat'], expected.expand(2, -1, -1, -1), atol=1e-5)
    assert torch.allclose(out['cam'], torch.as_tensor(mean['cam']).float().expand(2, -1))


def test_loss_finite_and_gradient_reaches_features(head_kwargs, mesh_samples):
    head = HMRHead(**head_kwargs)
    feat = torch.randn(2, 32, requires_grad=True)
    losses = head.loss((feat, ), mesh_samples(2))
    expected = {'loss_keypoints_3d', 'loss_keypoint_labels', 'loss_smpl_pose', 'loss_smpl_betas',
                'loss_cam', 'mpjpe'}
    assert expected <= set(losses)
    assert 'loss_vertices' not in losses  # weight 0 by default: not computed
    for name, value in losses.items():
        assert torch.isfinite(value), name
    total = sum(v for k, v in losses.items() if k.startswith('loss_'))
    total.backward()
    assert feat.grad is not None and feat.grad.abs().sum() > 0
    assert losses['mpjpe'] > 0


def test_vertex_loss_and_missing_labels(head_kwargs, mesh_samples):
    head = HMRHead(**dict(head_kwargs, loss=dict(type='MeshLoss', vertices_weight=1.0)))
    losses = head.loss((torch.randn(2, 32), ), mesh_samples(2, has_smpl=0.0))
    # no sample has SMPL: every SMPL-supervised term must be exactly 0
    for name in ('loss_vertices', 'loss_smpl_pose', 'loss_smpl_betas'):
        assert losses[name].item() == 0.0
    losses = head.loss((torch.randn(2, 32), ), mesh_samples(2))
    assert losses['loss_vertices'] > 0


def test_predict_fields_and_projection(head_kwargs, mesh_samples):
    head = HMRHead(**head_kwargs).eval()
    feats = (torch.randn(2, 32), )
    with torch.no_grad():
        preds = head.predict(feats, mesh_samples(2))
        fwd = head.forward(feats)
    assert len(preds) == 2
    p = preds[0]
    shapes = dict(keypoints=(1, 24, 2), keypoint_scores=(1, 24), keypoints_3d=(1, 24, 3),
                  smpl_pose=(1, 72), smpl_betas=(1, 10), cam=(1, 3), vertices=(1, 6890, 3),
                  keypoints_3d_h36m=(1, 17, 3))
    for key, shape in shapes.items():
        assert isinstance(p.get(key), np.ndarray) and p.get(key).dtype == np.float32, key
        assert p.get(key).shape == shape, key
    assert np.allclose(p.keypoints_3d[0, 0], 0)  # root-relative
    body = head.run_body_model(fwd['smpl_pose_rotmat'], fwd['smpl_betas'])
    keypoints_norm = head.project(body['joints'], fwd['cam'])[0].numpy()
    assert np.allclose(p.keypoints[0], (keypoints_norm + 1) * 112, atol=1e-3)
    no_verts = head.predict(feats, mesh_samples(2), test_cfg=dict(output_vertices=False))
    assert 'vertices' not in no_verts[0]


def test_predict_decodes_through_the_codec(head_kwargs, mesh_samples):
    head = HMRHead(**dict(head_kwargs, input_size=(96, 128))).eval()
    assert type(head.decoder).__name__ == 'SMPLLabelCodec' and head.decoder.input_size == (96, 128)
    samples = mesh_samples(2)
    for s in samples:
        s.set_metainfo(dict(input_size=(96, 128)))
    feats = (torch.randn(2, 32), )
    with torch.no_grad():
        preds = head.predict(feats, samples)
        crop = head.predict_outputs(feats)['keypoints_crop']
    decoded = head.decode(crop[:, None])  # MMPose's BaseHead.decode through the decoder
    for p, d in zip(preds, decoded):
        assert np.allclose(p.keypoints, d.keypoints) and np.allclose(p.keypoint_scores, d.keypoint_scores)
    assert np.allclose(preds[0].keypoints[0, :, 0], (crop[0, :, 0].numpy() + 1) * 48, atol=1e-4)
    with pytest.raises(ValueError, match='decoder input_size'):
        HMRHead(**dict(head_kwargs, decoder=dict(type='SMPLLabelCodec', input_size=(64, 64))))


def test_in_channels_mismatch_names_the_field(head_kwargs):
    head = HMRHead(**head_kwargs)
    with pytest.raises(ValueError, match='in_channels'):
        head.forward((torch.randn(2, 48), ))


def test_spatial_feature_is_pooled(head_kwargs):
    head = HMRHead(**head_kwargs).eval()
    fmap = torch.randn(2, 32, 4, 4)
    a = head.forward((fmap, ))['smpl_pose_rotmat']
    b = head.forward((fmap.mean((2, 3)), ))['smpl_pose_rotmat']
    assert torch.allclose(a, b, atol=1e-6)


def test_adversarial_prior_in_head_loss(head_kwargs, mesh_samples, real_pose_file):
    loss_cfg = dict(type='MeshLoss', use_adversarial=True, adversarial_weight=1.0,
                    real_pose_file=real_pose_file)
    head = HMRHead(**dict(head_kwargs, loss=loss_cfg))
    assert any(k.startswith('loss_module.discriminator.') for k in head.state_dict())
    feat = torch.randn(2, 32, requires_grad=True)
    losses = head.loss((feat, ), mesh_samples(2))
    for name in ('loss_adv', 'loss_disc', 'acc_disc'):
        assert torch.isfinite(losses[name]), name
    losses['loss_adv'].backward(retain_graph=True)
    assert feat.grad.abs().sum() > 0
    feat.grad = None
    losses['loss_disc'].backward()
    assert feat.grad is None  # D's term does not reach the encoder
    assert head.loss_module.discriminator.pose_mlp[-1].weight.grad.abs().sum() > 0
