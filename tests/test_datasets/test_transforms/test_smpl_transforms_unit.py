"""Unit tests of the SMPL-aware flip, crop rotation and colour noise."""
import numpy as np
import pytest
import torch
from mmpose.structures.bbox import get_warp_matrix

from pmnet_plugin.datasets.transforms import (RandomChannelNoise, SMPLRandomBBoxTransform,
                                              SMPLRandomFlip, camera_rotation_for_crop,
                                              flip_keypoints_3d, flip_smpl_pose,
                                              rotate_smpl_global_orient)
from pmnet_plugin.models.body_models.constants import SMPL_FLIP_INDICES
from pmnet_plugin.utils.rotation import axis_angle_to_matrix


def test_flip_smpl_pose():
    rng = np.random.default_rng(0)
    pose = rng.normal(0, .5, (3, 72)).astype(np.float32)
    flipped = flip_smpl_pose(pose)
    np.testing.assert_allclose(flip_smpl_pose(flipped), pose)  # involution
    # left hip (1) gets the mirrored right hip (2): (x, -y, -z)
    np.testing.assert_allclose(flipped[:, 3:6], pose[:, 6:9] * [1, -1, -1])
    # R' = M R M with M = diag(-1, 1, 1) for the global orientation
    m = torch.diag(torch.tensor([-1., 1., 1.]))
    rot = axis_angle_to_matrix(torch.from_numpy(pose[:, :3]))
    np.testing.assert_allclose(axis_angle_to_matrix(torch.from_numpy(flipped[:, :3])),
                               m @ rot @ m, atol=1e-5)
    torch_flipped = flip_smpl_pose(torch.from_numpy(pose))
    np.testing.assert_allclose(torch_flipped.numpy(), flipped)


def test_flip_transform_3d():
    rng = np.random.default_rng(1)
    keypoints_3d = rng.normal(size=(1, 24, 3)).astype(np.float32)
    vis3d = (rng.uniform(size=(1, 24)) > .3).astype(np.float32)
    results = dict(img=np.zeros((20, 30, 3), np.uint8), img_shape=(20, 30),
                   flip_indices=SMPL_FLIP_INDICES, keypoints=rng.uniform(0, 20, (1, 24, 2)),
                   keypoints_visible=np.ones((1, 24)), keypoints_3d=keypoints_3d.copy(),
                   keypoints_3d_visible=vis3d.copy(), smpl_pose=np.zeros((1, 72), np.float32))
    out = SMPLRandomFlip(prob=1.)(results)
    assert out['flip']
    np.testing.assert_allclose(out['keypoints_3d'][0, 1], keypoints_3d[0, 2] * [-1, 1, 1])
    assert out['keypoints_3d_visible'][0, 4] == vis3d[0, 5]
    np.testing.assert_allclose(flip_keypoints_3d(*flip_keypoints_3d(keypoints_3d, vis3d))[0], keypoints_3d)


def test_flip_in_the_human_data_set(tmp_path):
    """Flip indices of a joint set pair left_*/right_* names; labels and root weights move with them."""
    from real_layouts import write_spin_npz

    from pmnet_plugin.datasets import SMPLImageDataset
    from pmnet_plugin.datasets.keypoint_conventions import HUMAN_DATA_KEYPOINTS
    truth = write_spin_npz(str(tmp_path))
    ds = SMPLImageDataset(ann_file=truth['path'], joint_set='human_data', openpose_weight=1.)
    info = ds.get_data_info(0)
    hd = {n: i for i, n in enumerate(HUMAN_DATA_KEYPOINTS)}
    info['keypoints_3d_root'][0] = 0.
    info['keypoints_3d_root'][0, [hd['left_hip_extra'], hd['right_hip_extra']]] = [0.3, 0.7]
    results = dict(info, img=np.zeros((64, 48, 3), np.uint8), img_shape=(64, 48))
    out = SMPLRandomFlip(prob=1.)(dict(results, keypoints_3d_root=info['keypoints_3d_root'].copy()))
    lhip, rhip = hd['left_hip_extra'], hd['right_hip_extra']
    np.testing.assert_allclose(out['keypoints_3d'][0, lhip], info['keypoints_3d'][0, rhip] * [-1, 1, 1])
    np.testing.assert_allclose(out['keypoints'][0, hd['left_eye_openpose'], 0],
                               47 - info['keypoints'][0, hd['right_eye_openpose'], 0], atol=1e-5)
    assert out['keypoints_visible'][0, lhip] == info['keypoints_visible'][0, rhip]
    assert out['keypoints_3d_root'][0, [lhip, rhip]].tolist() == pytest.approx([0.7, 0.3])


def test_camera_rotation_matches_warp_matrix():
    for rot in (-50., 17., 90.):
        warp = get_warp_matrix(np.array([50., 60.]), np.array([80., 80.]), rot, (224, 224))
        lin = warp[:, :2] / (224. / 80.)
        np.testing.assert_allclose(lin, camera_rotation_for_crop(rot)[:2, :2], atol=1e-5)


def test_rotate_transform_updates_3d_and_orient():
    rng = np.random.default_rng(2)
    pose = rng.normal(0, .4, (1, 72)).astype(np.float32)
    keypoints_3d = rng.normal(size=(1, 24, 3)).astype(np.float32)
    t = SMPLRandomBBoxTransform(shift_prob=0., scale_prob=0., rotate_factor=60., rotate_prob=1.)
    np.random.seed(3)
    out = t(dict(bbox_center=np.array([[50., 50.]]), bbox_scale=np.array([[80., 80.]]),
                 keypoints_3d=keypoints_3d.copy(), smpl_pose=pose.copy()))
    rot = camera_rotation_for_crop(out['bbox_rotation'][0])
    assert abs(out['bbox_rotation'][0]) > 1.
    np.testing.assert_allclose(out['keypoints_3d'], keypoints_3d @ rot.T, atol=1e-5)
    r_new = axis_angle_to_matrix(torch.from_numpy(out['smpl_pose'][:, :3]))
    r_old = axis_angle_to_matrix(torch.from_numpy(pose[:, :3]))
    np.testing.assert_allclose(r_new, torch.from_numpy(rot) @ r_old, atol=1e-5)
    np.testing.assert_allclose(out['smpl_pose'][:, 3:], pose[:, 3:])
    np.testing.assert_allclose(rotate_smpl_global_orient(pose, np.eye(3)), pose, atol=1e-5)


def test_channel_noise():
    img = np.full((4, 4, 3), 100, np.uint8)
    np.random.seed(0)
    out = RandomChannelNoise(noise_factor=0.4)(dict(img=img.copy()))['img']
    assert out.dtype == np.uint8 and out.shape == img.shape
    per_channel = out[0, 0].astype(float)
    assert np.all((per_channel >= 60) & (per_channel <= 140)) and len(set(per_channel)) > 1
    assert (out == out[0, 0]).all()  # one factor per channel
    same = RandomChannelNoise(noise_factor=0.4, prob=0.)(dict(img=img.copy()))['img']
    assert (same == img).all()


def test_rotate_global_orient_matches_matrix_product_near_pi():
    rng = np.random.default_rng(5)
    pose = rng.normal(0, 1.5, (64, 72)).astype(np.float32)
    axes = pose[:8, :3] / np.linalg.norm(pose[:8, :3], axis=1, keepdims=True)
    pose[:8, :3] = axes * (np.pi - 1e-3)  # the branch of Rodrigues' inverse near a half turn
    rot = camera_rotation_for_crop(37.)
    out = rotate_smpl_global_orient(pose, rot)
    expect = torch.from_numpy(rot).double() @ axis_angle_to_matrix(torch.from_numpy(pose[:, :3]).double())
    got = axis_angle_to_matrix(torch.from_numpy(out[:, :3]).double())
    np.testing.assert_allclose(got.numpy(), expect.numpy(), atol=1e-5)
    np.testing.assert_array_equal(out[:, 3:], pose[:, 3:])


def test_truncated_normal_is_scipys_distribution():
    from scipy.stats import truncnorm

    from pmnet_plugin.datasets.transforms.smpl_bbox_transform import truncated_normal
    np.random.seed(0)
    x = truncated_normal((100_000, ))
    assert x.dtype == np.float32 and x.shape == (100_000, )
    assert x.min() >= -1. and x.max() <= 1.
    assert abs(x.std() - truncnorm.std(-1, 1)) < 0.005 and abs(x.mean()) < 0.01
    np.random.seed(0)
    np.testing.assert_array_equal(truncated_normal((100_000, )), x)  # the global seed decides
    # the transform draws from it
    np.random.seed(1)
    a = SMPLRandomBBoxTransform._truncnorm(size=(3, 4))
    np.random.seed(1)
    np.testing.assert_array_equal(a, truncated_normal((3, 4)))


def test_channel_noise_equals_per_pixel_product():
    img = np.random.default_rng(0).integers(0, 256, (16, 12, 3), dtype=np.uint8)
    np.random.seed(7)
    out = RandomChannelNoise(noise_factor=0.4)(dict(img=img.copy()))['img']
    np.random.seed(7)
    np.random.rand()  # the draw of `prob`
    pn = np.random.uniform(0.6, 1.4, 3).astype(np.float32)
    np.testing.assert_array_equal(out, np.clip(img.astype(np.float32) * pn, 0, 255).astype(np.uint8))
    gray = img[..., :1].copy()
    assert RandomChannelNoise(noise_factor=0.4)(dict(img=gray))['img'].shape == gray.shape
