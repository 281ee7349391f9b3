"""BVH (bvhio) and GLB (trimesh) exports give back the body model's joints and the predicted vertices."""
import numpy as np
import pytest
import torch

from pmnet_plugin.apis.export import CAMERA_TO_Y_UP, finish_track, write_bvh, write_glb
from pmnet_plugin.models.body_models.constants import SMPL_JOINT_NAMES

bvhio = pytest.importorskip('bvhio')


@pytest.fixture(scope='module')
def body(body_model_files):
    from pmnet_plugin.models.body_models import SMPLBodyModel
    return SMPLBodyModel(body_model_files['model_path']).eval()


def bvh_forward_kinematics(path: str) -> np.ndarray:
    """(T, 24, 3) world positions of the SMPL joints of a BVH file, read and posed by bvhio."""
    root = bvhio.readAsHierarchy(path)
    frames = bvhio.readAsBvh(path).FrameCount
    out = []
    for t in range(frames):
        root.loadPose(t, recursive=True)
        pos = {joint.Name: np.array(joint.PositionWorld) for joint, _, _ in root.layout()}
        out.append(np.stack([pos[name] for name in SMPL_JOINT_NAMES[:24]]))
    return np.stack(out)


def mocap_track(num: int = 20):
    from pmnet_plugin.synthetic.deepmimic import build_pose_library
    from pmnet_plugin.synthetic.video_clip import clip_sequence
    pytest.importorskip('pybullet_data')
    seq = clip_sequence(build_pose_library(clips=['cartwheel']), 'cartwheel', num, yaw=0.7,
                        betas=np.linspace(-1, 1, 10))
    pose = np.concatenate([seq['global_orient'], seq['body_pose'].reshape(num, 69)], 1)
    transl = np.stack([np.linspace(-0.5, 0.5, num), np.zeros(num), np.full(num, 6.0)], 1)
    return pose, seq['betas'][0], transl


def test_bvh_round_trip_gives_the_body_models_joints(body, tmp_path):
    pose, betas, transl = mocap_track()
    path = str(tmp_path / 'track.bvh')
    written = write_bvh(path, pose, betas, body, transl, fps=30.0)
    with torch.no_grad():
        out = body(betas=torch.tensor(betas, dtype=torch.float32).expand(len(pose), -1),
                   body_pose=torch.tensor(pose[:, 3:], dtype=torch.float32),
                   global_orient=torch.tensor(pose[:, :3], dtype=torch.float32),
                   transl=torch.tensor(transl, dtype=torch.float32), regressed=False)
    expected = out['joints'][:, :24].double().numpy() @ CAMERA_TO_Y_UP.T
    fk = bvh_forward_kinematics(path)
    assert fk.shape == (len(pose), 24, 3)
    assert np.abs(fk - expected).max() < 1e-3  # 1 mm
    np.testing.assert_allclose(written['joints'], expected, atol=1e-5)
    assert np.ptp(fk[:, 0, 0]) > 0.5  # the root moves with the translation
    assert bvhio.readAsBvh(path).FrameTime == pytest.approx(1 / 30.0)


def test_glb_holds_the_vertices(body, tmp_path):
    trimesh = pytest.importorskip('trimesh')
    rng = np.random.default_rng(0)
    verts = rng.normal(size=(body.num_vertices, 3)) + [0, 0, 5]
    path = str(tmp_path / 'person.glb')
    write_glb(path, verts, body.faces)
    mesh = trimesh.load(path, force='mesh', process=False)
    np.testing.assert_allclose(mesh.vertices, verts @ CAMERA_TO_Y_UP.T, atol=1e-5)
    np.testing.assert_array_equal(mesh.faces, body.faces)


def test_finish_track_smooths_and_keeps_the_raw(body):
    pose, betas, transl = mocap_track(12)
    rng = np.random.default_rng(1)
    track = dict(frame=np.arange(12), smpl_pose=pose + rng.normal(scale=0.05, size=pose.shape),
                 smpl_betas=np.tile(betas, (12, 1)), cam_t_full=transl)
    out = finish_track(track, body, fps=30.0, smooth=dict(min_cutoff=1.0))
    assert out['joints'].shape == (12, 24, 3)
    np.testing.assert_array_equal(out['smpl_pose_raw'], track['smpl_pose'])
    assert not np.allclose(out['smpl_pose'], track['smpl_pose'])
    plain = finish_track(track, body, fps=30.0)
    assert 'smpl_pose_raw' not in plain and np.allclose(plain['smpl_pose'], track['smpl_pose'])
