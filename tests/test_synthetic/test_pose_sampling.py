"""Time-segment split, long-tail sampling, camera-frame orientation and crop placement."""
import numpy as np
from scipy.spatial.transform import Rotation

from pmnet_plugin.synthetic.pose_sampling import (canonical_to_camera, perturb_body_pose,
                                                  place_in_crop, sample_indices, sample_smpl_params,
                                                  split_masks)


def fake_library(lengths=dict(walk=39, run=25, cartwheel=164, crawl=177)):
    clip = np.concatenate([np.full(n, c) for c, n in lengths.items()])
    frame = np.concatenate([np.arange(n) for n in lengths.values()])
    rng = np.random.default_rng(0)
    return dict(clip=clip, frame=frame, is_rare=np.isin(clip, ['cartwheel', 'crawl']),
                poses=rng.normal(0, 0.2, size=(len(clip), 72)).astype(np.float32))


def test_split_is_disjoint_with_gap_and_covers_every_clip():
    lib = fake_library()
    train, test = split_masks(lib['clip'], lib['frame'], test_fraction=0.25, segment_len=12, gap=2)
    assert not (train & test).any()
    for name in np.unique(lib['clip']):
        sel = lib['clip'] == name
        tr, te = lib['frame'][sel & train], lib['frame'][sel & test]
        assert len(tr) > 0 and len(te) > 0, name
        assert 0.15 < len(te) / sel.sum() < 0.35, name
        assert np.abs(tr[:, None] - te[None]).min() > 2, name  # the gap
        assert 0 not in te and sel.sum() - 1 not in te  # looping clips: the ends neighbour each other


def test_sample_indices_rare_fraction_exact_and_within_candidates():
    lib = fake_library()
    train, _ = split_masks(lib['clip'], lib['frame'])
    rng = np.random.default_rng(1)
    idx = sample_indices(lib['is_rare'], train, 1000, 0.05, rng)
    assert len(idx) == 1000 and train[idx].all()
    assert lib['is_rare'][idx].sum() == 50
    # every common train frame is used before any repeats
    assert len(np.unique(idx[~lib['is_rare'][idx]])) == (train & ~lib['is_rare']).sum()


def test_canonical_to_camera_upright_facing_camera():
    out = canonical_to_camera(np.zeros((2, 3)), np.array([0.0, np.pi / 2]))
    np.testing.assert_allclose(Rotation.from_rotvec(out[0]).as_matrix(),
                               Rotation.from_rotvec([np.pi, 0, 0]).as_matrix(), atol=1e-6)
    rot = Rotation.from_rotvec(out[1]).as_matrix()
    np.testing.assert_allclose(rot @ [0, 1, 0], [0, -1, 0], atol=1e-6)  # canonical up -> camera -y (up)
    assert abs((rot @ [0, 0, 1])[2]) < 1e-6  # a quarter turn: the body faces sideways


def test_sample_smpl_params_shapes_and_ranges():
    lib = fake_library()
    rng = np.random.default_rng(2)
    params = sample_smpl_params(lib, np.arange(50), rng, noise_deg=3.0)
    assert params['global_orient'].shape == (50, 3) and params['body_pose'].shape == (50, 23, 3)
    assert np.abs(params['betas']).max() <= 2.0 and params['betas'].std() > 0.5
    diff = Rotation.from_rotvec(params['body_pose'].reshape(-1, 3)).inv() * Rotation.from_rotvec(
        lib['poses'][:50, 3:].reshape(-1, 3).astype(np.float64))
    assert np.rad2deg(diff.magnitude()).max() < 20 and np.rad2deg(diff.magnitude()).mean() > 0.5


def test_perturb_zero_noise_is_identity():
    pose = np.random.default_rng(3).normal(0, 0.3, size=(4, 23, 3))
    np.testing.assert_allclose(perturb_body_pose(pose, 0.0, np.random.default_rng(0)), pose)


def test_place_in_crop_keeps_body_inside():
    rng = np.random.default_rng(4)
    pts = rng.uniform([-0.4, -0.9, -0.2], [0.4, 0.9, 0.2], size=(500, 3))
    for _ in range(20):
        t = place_in_crop(pts, rng, img_size=224, focal=5000.0)
        cam = pts + t
        px = cam[:, :2] / cam[:, 2:] * 5000.0 + 112.0
        assert px.min() >= 0 and px.max() <= 224
        span = (px.max(0) - px.min(0)).max() / 224
        assert 0.55 < span < 0.9
