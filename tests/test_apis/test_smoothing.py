"""One-Euro smoothing of SMPL tracks in the 6D rotation space."""
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from pmnet_plugin.apis.smoothing import one_euro_filter, smooth_smpl_track


def test_one_euro_keeps_constants_and_cuts_jitter():
    rng = np.random.default_rng(0)
    const = np.full((50, 3), 2.5)
    np.testing.assert_allclose(one_euro_filter(const, min_cutoff=0.5), const)
    noisy = rng.normal(size=(300, 4))
    out = one_euro_filter(noisy, np.arange(300) / 30.0, min_cutoff=1.0)
    np.testing.assert_array_equal(out[0], noisy[0])
    assert np.diff(out, 2, axis=0).std() < 0.2 * np.diff(noisy, 2, axis=0).std()


def test_speed_term_reduces_lag_on_a_ramp():
    ramp = np.linspace(0, 10, 100)[:, None]
    times = np.arange(100) / 30.0
    lag_slow = np.abs(one_euro_filter(ramp, times, min_cutoff=0.5, beta=0.0) - ramp)[-1, 0]
    lag_fast = np.abs(one_euro_filter(ramp, times, min_cutoff=0.5, beta=1.0) - ramp)[-1, 0]
    assert lag_fast < 0.5 * lag_slow


def test_times_must_increase():
    with pytest.raises(ValueError, match='increase'):
        one_euro_filter(np.zeros((3, 1)), np.array([0.0, 1.0, 1.0]))


def test_rotations_near_180_degrees_do_not_jump():
    """Angles around pi flip the axis-angle vector (theta a -> (2 pi - theta)(-a)); the 6D filter does not see it."""
    num = 60
    angles = np.pi + 0.15 * np.sin(np.arange(num) / 3.0)
    rots = Rotation.from_rotvec(angles[:, None] * np.array([0.0, 0.0, 1.0]))
    aa = rots.as_rotvec()
    assert (aa[:, 2] > 0).any() and (aa[:, 2] < 0).any()  # the raw parameters jump
    pose = np.zeros((num, 72))
    pose[:, 3:6] = aa  # joint 1
    track = dict(frame=np.arange(num), smpl_pose=pose, smpl_betas=np.zeros((num, 10)),
                 cam_t_full=np.tile([0, 0, 5.0], (num, 1)))
    out = smooth_smpl_track(track, fps=30.0, min_cutoff=1.0)
    diff = (Rotation.from_rotvec(out['smpl_pose'][:, 3:6]) * rots.inv()).magnitude()
    assert diff.max() < np.deg2rad(10)  # a jump through the identity would be ~180 degrees
    np.testing.assert_allclose(out['smpl_pose'][:, 6:], 0, atol=1e-6)  # identities stay identities
    np.testing.assert_allclose(out['cam_t_full'], track['cam_t_full'], atol=1e-5)


def test_gaps_count_as_elapsed_time():
    frames = np.array([0, 1, 2, 30])
    values = np.array([[0.0], [0.0], [0.0], [1.0]])
    out_gap = one_euro_filter(values, frames / 30.0, min_cutoff=1.0)
    out_next = one_euro_filter(values, np.arange(4) / 30.0, min_cutoff=1.0)
    assert out_gap[-1, 0] > out_next[-1, 0]  # after a second the filter follows further
