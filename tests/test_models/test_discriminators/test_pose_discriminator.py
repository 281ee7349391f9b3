import numpy as np
import pytest
import torch
from mmpose.registry import MODELS

import pmnet_plugin.models  # noqa: F401  (registers SMPLPoseDiscriminator)
from pmnet_plugin.models.discriminators import (RealPoseSampler, SMPLPoseDiscriminator,
                                                discriminator_accuracy, lsgan_discriminator_loss,
                                                lsgan_encoder_loss)
from pmnet_plugin.utils.rotation import axis_angle_to_matrix


def _rot(B, scale, seed=0):
    g = torch.Generator().manual_seed(seed)
    return axis_angle_to_matrix(torch.randn(B, 23, 3, generator=g) * scale)


def test_output_shape_and_layout():
    D = MODELS.build(dict(type='SMPLPoseDiscriminator'))
    assert D(_rot(3, 0.5), torch.randn(3, 10)).shape == (3, 25)
    # HMR's sizes: shared 1x1 convs 9->32->32, full-pose MLP 736->1024->1024->1, betas 10->10->5->1
    assert [m.out_channels for m in D.joint_embed if hasattr(m, 'out_channels')] == [32, 32]
    assert D.pose_mlp[0][0].in_features == 32 * 23
    assert [m.out_features for m in D.betas_mlp.modules() if isinstance(m, torch.nn.Linear)] == [
        10, 5, 1]
    # a full SMPL pose (24 joints) is accepted: global orient is ignored
    full = torch.cat([axis_angle_to_matrix(torch.randn(3, 1, 3)), _rot(3, 0.5)], 1)
    betas = torch.randn(3, 10)
    assert torch.allclose(D(full, betas), D(_rot(3, 0.5), betas))
    with pytest.raises(ValueError, match='expected pose'):
        D(_rot(3, 0.5)[:, :20], betas)


def test_per_joint_outputs_are_independent():
    D = SMPLPoseDiscriminator(pose_hidden=(16, ))
    pose, betas = _rot(2, 0.5), torch.randn(2, 10)
    moved = pose.clone()
    moved[:, 4] = _rot(2, 1.0, seed=1)[:, 4]
    diff = (D(pose, betas) - D(moved, betas)).abs()[0]
    assert diff[4] > 0 and diff[23] > 0  # joint 4's classifier and the full-pose output
    assert torch.all(diff[:4] == 0) and torch.all(diff[5:23] == 0) and diff[24] == 0


def test_lsgan_objective_values():
    ones, zeros = torch.ones(4, 25), torch.zeros(4, 25)
    assert lsgan_encoder_loss(ones).item() == 0.0
    assert lsgan_encoder_loss(zeros).item() == pytest.approx(25.0)  # sum over the 25 outputs
    assert lsgan_discriminator_loss(ones, zeros).item() == 0.0
    assert lsgan_discriminator_loss(zeros, ones).item() == pytest.approx(50.0)
    assert discriminator_accuracy(ones, zeros).item() == 1.0
    assert discriminator_accuracy(zeros, ones).item() == 0.0


def test_sampler_pose_library_and_humandata(real_pose_file, tmp_path):
    sampler = RealPoseSampler(real_pose_file)
    pose, betas = sampler.sample(5)
    assert pose.shape == (5, 23, 3, 3) and betas.shape == (5, 10)
    library = axis_angle_to_matrix(torch.as_tensor(np.load(real_pose_file)['poses'])[:, 3:]
                                   .reshape(-1, 23, 3))
    # every sampled pose is a library entry
    d = (pose[:, None] - library[None]).flatten(2).abs().amax(-1).amin(1)
    assert torch.all(d < 1e-5)
    assert len(sampler.state_dict()) == 0  # data, not checkpoint content
    # HumanData: betas come from the file, frames without SMPL are dropped
    n = 6
    smpl = dict(global_orient=np.zeros((n, 3)), body_pose=np.full((n, 23, 3), 0.2),
                betas=np.arange(n * 10, dtype=np.float32).reshape(n, 10))
    smpl['body_pose'][0] = 2.0
    path = tmp_path / 'hd.npz'
    np.savez(path, smpl=np.array(smpl, dtype=object), has_smpl=np.arange(n) > 0)
    sampler = RealPoseSampler(str(path))
    assert len(sampler) == n - 1
    torch.manual_seed(0)
    pose, betas = sampler.sample(8)
    assert torch.all(betas[:, 0] % 10 == 0) and torch.all(betas[:, 0] >= 10)
    assert torch.allclose(pose, axis_angle_to_matrix(torch.full((8, 23, 3), 0.2)), atol=1e-6)


def test_discriminator_learns_to_separate_real_from_fake(real_pose_file):
    torch.manual_seed(0)
    sampler = RealPoseSampler(real_pose_file)  # poses near rest, N(0, 1) betas
    D = SMPLPoseDiscriminator(pose_hidden=(64, 64))
    opt = torch.optim.Adam(D.parameters(), lr=3e-3)

    def step(train):
        real_pose, real_betas = sampler.sample(16)
        fake_pose = _rot(16, 1.0, seed=int(torch.randint(1000, ())))  # implausible twists
        fake_betas = torch.randn(16, 10) + 3  # off the N(0, I) prior
        logits = D(torch.cat([real_pose, fake_pose]), torch.cat([real_betas, fake_betas]))
        if train:
            opt.zero_grad()
            lsgan_discriminator_loss(logits[:16], logits[16:]).backward()
            opt.step()
        return discriminator_accuracy(logits[:16], logits[16:]).item()

    before = np.mean([step(False) for _ in range(3)])
    for _ in range(60):
        step(True)
    after = np.mean([step(False) for _ in range(3)])
    assert before < 0.7 and after > 0.9  # over all 25 outputs (per joint, pose, betas)
