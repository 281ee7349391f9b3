"""Retargeting of DeepMimic frames to SMPL (hand-made frames) and the reader on a shipped clip."""
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from pmnet_plugin.synthetic.deepmimic import (DM_TO_SMPL, FRAME_SIZE, RARE_CLIPS,
                                              build_pose_library, parse_frames, read_clip,
                                              retarget_to_smpl)

IDENTITY_Q = [1.0, 0.0, 0.0, 0.0]


def make_frame(**overrides) -> np.ndarray:
    """One DeepMimic frame, identity rotations, zero knee/elbow angles, then ``overrides`` (name -> value)."""
    fields = dict(dt=[1 / 30], root_pos=[0.0, 0.9, 0.0], root_quat=IDENTITY_Q, chest=IDENTITY_Q,
                  neck=IDENTITY_Q, right_hip=IDENTITY_Q, right_knee=[0.0], right_ankle=IDENTITY_Q,
                  right_shoulder=IDENTITY_Q, right_elbow=[0.0], left_hip=IDENTITY_Q, left_knee=[0.0],
                  left_ankle=IDENTITY_Q, left_shoulder=IDENTITY_Q, left_elbow=[0.0])
    fields.update(overrides)
    frame = np.concatenate([np.asarray(v, np.float64) for v in fields.values()])
    assert frame.shape == (FRAME_SIZE, )
    return frame[None]


def quat_wxyz(axis, deg) -> list:
    x, y, z, w = Rotation.from_rotvec(np.deg2rad(deg) * np.asarray(axis, float)).as_quat()
    return [w, x, y, z]


def smpl_rotmats(frame: np.ndarray) -> np.ndarray:
    poses = retarget_to_smpl(parse_frames(frame))['poses']
    return Rotation.from_rotvec(poses.reshape(-1, 3)).as_matrix()  # (24, 3, 3)


def test_identity_frame_is_standing_with_arms_down():
    poses = retarget_to_smpl(parse_frames(make_frame()))['poses'].reshape(24, 3)
    driven_arm = {16: [0, 0, -np.pi / 2], 17: [0, 0, np.pi / 2]}  # the T-pose -> arms-down correction
    for j in range(24):
        np.testing.assert_allclose(poses[j], driven_arm.get(j, [0, 0, 0]), atol=1e-6, err_msg=f'joint {j}')
    rots = smpl_rotmats(make_frame())
    # Left upper arm rests along +X in SMPL, right along -X: both must now point down (-Y).
    np.testing.assert_allclose(rots[16] @ [1, 0, 0], [0, -1, 0], atol=1e-6)
    np.testing.assert_allclose(rots[17] @ [-1, 0, 0], [0, -1, 0], atol=1e-6)


def test_knee_90_degrees_bends_shin_backwards_about_smpl_x():
    poses = retarget_to_smpl(parse_frames(make_frame(right_knee=[-np.pi / 2])))['poses'].reshape(24, 3)
    np.testing.assert_allclose(poses[5], [np.pi / 2, 0, 0], atol=1e-6)  # right_knee: +90 deg about +X
    np.testing.assert_allclose(poses[4], 0, atol=1e-6)  # left knee untouched
    shin = Rotation.from_rotvec(poses[5]).as_matrix() @ [0, -1, 0]
    np.testing.assert_allclose(shin, [0, 0, -1], atol=1e-6)  # SMPL faces +Z: the shin goes backwards


def test_elbow_flexion_brings_forearm_forward():
    rots = smpl_rotmats(make_frame(left_elbow=[np.pi / 2], right_elbow=[np.pi / 2]))
    # Forearm direction in the world = shoulder @ elbow @ rest bone (collars / spine at identity).
    np.testing.assert_allclose(rots[16] @ rots[18] @ [1, 0, 0], [0, 0, 1], atol=1e-6)
    np.testing.assert_allclose(rots[17] @ rots[19] @ [-1, 0, 0], [0, 0, 1], atol=1e-6)
    np.testing.assert_allclose(Rotation.from_matrix(rots[18]).magnitude(), np.pi / 2, atol=1e-6)


def test_root_and_chest_mapping():
    # Yaw about the shared up axis stays a yaw; a DeepMimic bend forward (about DM z = right, negative)
    # becomes a bend forward in SMPL, split over spine1..3.
    rots = smpl_rotmats(make_frame(root_quat=quat_wxyz([0, 1, 0], 90), chest=quat_wxyz([0, 0, 1], -60)))
    np.testing.assert_allclose(rots[0], Rotation.from_euler('y', 90, degrees=True).as_matrix(), atol=1e-6)
    chest = rots[3] @ rots[6] @ rots[9]
    dm_chest = Rotation.from_rotvec([0, 0, -np.pi / 3]).as_matrix()
    np.testing.assert_allclose(chest, DM_TO_SMPL @ dm_chest @ DM_TO_SMPL.T, atol=1e-6)
    for j in (3, 6, 9):
        np.testing.assert_allclose(Rotation.from_matrix(rots[j]).magnitude(), np.pi / 9, atol=1e-6)
    up = chest @ [0, 1, 0]
    assert up[2] > 0.8  # the torso leans toward SMPL's forward (+Z)


def test_hip_flexion_lifts_thigh_forward():
    # DeepMimic: character faces +X, so lifting the thigh forward rotates -Y towards +X (about +Z).
    rots = smpl_rotmats(make_frame(left_hip=quat_wxyz([0, 0, 1], 90)))
    np.testing.assert_allclose(rots[1] @ [0, -1, 0], [0, 0, 1], atol=1e-6)


def test_reader_on_shipped_clip():
    pytest.importorskip('pybullet_data')
    from pmnet_plugin.synthetic.deepmimic import list_clips
    paths = list_clips()
    assert len(paths) == 15 and 'walk' in paths and 'cartwheel' in paths
    walk = read_clip(paths['walk'])
    assert walk['root_quat'].shape == (39, 4) and walk['right_knee'].shape == (39, )
    np.testing.assert_allclose(np.linalg.norm(walk['chest'], axis=1), 1.0, atol=1e-3)
    assert abs(walk['fps'] - 30.0) < 0.5
    lib = build_pose_library(clips=['walk', 'cartwheel'])
    assert lib['poses'].shape == (39 + 164, 72)
    assert lib['is_rare'].tolist() == [c in RARE_CLIPS for c in lib['clip']]
    up = Rotation.from_rotvec(lib['poses'][:, :3]).as_matrix()[:, :, 1] @ np.array([0, 1, 0])
    assert up[lib['clip'] == 'walk'].min() > 0.8  # walking stays upright
    assert up[lib['clip'] == 'cartwheel'].min() < -0.5  # a cartwheel goes upside down
    knees = np.linalg.norm(lib['poses'][lib['clip'] == 'walk'][:, [12, 13, 14, 15, 16, 17]], axis=1)
    assert knees.max() > 0.5  # the knees bend during the gait cycle
