"""tools/demo.py on a rendered two-person video: tracks, smoothing, one file per track, BVH and GLB exports."""
import os.path as osp
import sys

import numpy as np
import pytest
import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(REPO, 'tests', 'test_apis'))
sys.path.insert(0, osp.join(REPO, 'tools'))
import demo  # noqa: E402
from mesh_model_setup import demo_setup  # noqa: E402
from test_export import bvh_forward_kinematics  # noqa: E402

pytestmark = pytest.mark.slow  # runs a tool end to end (make test-fast leaves it out)
NUM = 8


@pytest.fixture(scope='module')
def clip(body_model_files, tmp_path_factory):
    pytest.importorskip('pybullet_data')
    pytest.importorskip('bvhio')
    from pmnet_plugin.synthetic.deepmimic import build_pose_library
    from pmnet_plugin.synthetic.video_clip import clip_sequence, render_video_clip
    root = tmp_path_factory.mktemp('video')
    lib = build_pose_library(clips=['dance_a', 'jump'])
    people = [clip_sequence(lib, 'dance_a', NUM, yaw=0.3), clip_sequence(lib, 'jump', NUM, yaw=-0.3)]
    gt = render_video_clip(people, body_model_files['model_path'], str(root), 'two', img_size=(200, 150))
    setup = demo_setup(body_model_files, root, (0, 0, 10, 10))
    return dict(setup, gt=gt, video=str(root / 'two.mp4'), boxes=str(root / 'two_boxes.json'))


def test_video_tracks_smooths_and_exports(clip, tmp_path):
    out = tmp_path / 'out'
    assert demo.main([clip['cfg'], clip['ckpt'], clip['video'], '--out-dir', str(out), '--bbox-file', clip['boxes'],
                      '--smooth', '--export', 'bvh', 'glb', 'obj', '--no-side-view']) == 0
    tracks = sorted(p for p in out.iterdir() if p.name.startswith('two_track') and p.suffix == '.npz')
    assert [p.name for p in tracks] == ['two_track0.npz', 'two_track1.npz']  # two people, no id switch
    model = clip['model']
    body = next(m for m in model.modules() if type(m).__name__ == 'SMPLBodyModel')
    for k, path in enumerate(tracks):
        track = dict(np.load(path))
        assert track['frame'].tolist() == list(range(NUM))
        assert track['smpl_pose'].shape == (NUM, 72) and track['smpl_pose_raw'].shape == (NUM, 72)
        # the track follows one person: its boxes are that person's boxes in every frame
        person = np.argmax([np.abs(track['bboxes'][0, :4] - b).sum() < 1 for b in clip['gt']['bboxes'][0]])
        np.testing.assert_allclose(track['bboxes'][:, :4], clip['gt']['bboxes'][:, person], atol=0.01)
        # per-frame files carry the same track id for the same box
        frame3 = np.load(out / 'two_000003.npz')
        row = np.flatnonzero(np.abs(frame3['bboxes'][:, :4] - track['bboxes'][3, :4]).sum(1) < 1e-3)
        assert frame3['track_id'][row].tolist() == [k]
        # the BVH read back and posed gives the body model's joints at the track's mean betas (1 mm)
        with torch.no_grad():
            joints = body(betas=torch.tensor(track['smpl_betas'].mean(0)).expand(NUM, -1).float(),
                          body_pose=torch.tensor(track['smpl_pose'][:, 3:]),
                          global_orient=torch.tensor(track['smpl_pose'][:, :3]),
                          transl=torch.tensor(track['cam_t_full']), regressed=False)['joints'][:, :24]
        expected = joints.double().numpy() * [1, -1, -1]
        fk = bvh_forward_kinematics(str(path)[:-4] + '.bvh')
        assert np.abs(fk - expected).max() < 1e-3
    # one GLB (and OBJ) per person per image, holding the predicted vertices placed in the camera
    trimesh = pytest.importorskip('trimesh')
    frame0 = np.load(out / 'two_000000.npz')
    for i in range(2):
        mesh = trimesh.load(str(out / f'two_000000_person{i}.glb'), force='mesh', process=False)
        verts = frame0['vertices'][i] + frame0['cam_t_full'][i]
        np.testing.assert_allclose(mesh.vertices, verts * [1, -1, -1], atol=1e-4)
        assert (out / f'two_000000_person{i}.obj').exists()


def test_tracking_can_be_turned_off(clip, tmp_path):
    out = tmp_path / 'out'
    assert demo.main([clip['cfg'], clip['ckpt'], clip['video'], '--out-dir', str(out), '--bbox-file', clip['boxes'],
                      '--no-track', '--no-side-view']) == 0
    assert not list(out.glob('two_track*'))
    assert 'track_id' not in np.load(out / 'two_000000.npz')
