"""A tiny rendered dataset: files, HumanData keys, label/image consistency, disjoint splits, rare share."""
import os

import numpy as np
import pytest

pytest.importorskip('pyrender')
pytest.importorskip('cv2')


@pytest.fixture(scope='module')
def tiny_dataset(tmp_path_factory, body_model_files):
    from pmnet_plugin.synthetic.deepmimic import save_pose_library
    from pmnet_plugin.synthetic.synth_dataset import make_synthetic_dataset
    root = tmp_path_factory.mktemp('synth')
    rng = np.random.default_rng(0)
    lengths = dict(walk=40, kick=30, cartwheel=60)
    clip = np.concatenate([np.full(n, c) for c, n in lengths.items()])
    poses = rng.normal(0, 0.15, size=(len(clip), 72)).astype(np.float32)
    poses[:, :3] = 0  # upright in the canonical frame
    lib = dict(poses=poses, transl=np.zeros((len(clip), 3), np.float32), clip=clip,
               frame=np.concatenate([np.arange(n) for n in lengths.values()]),
               is_rare=clip == 'cartwheel', fps=np.full(len(clip), 30.0, np.float32))
    lib_path = str(root / 'pose_library.npz')
    save_pose_library(lib, lib_path)
    out = str(root / 'ds')
    summary = make_synthetic_dataset(out, num=6, rare_fraction=1 / 3, seed=0, img_size=96, num_test=4,
                                     test_rare_fraction=0.5, workers=1,
                                     body_model=body_model_files['model_path'], pose_library=lib_path)
    return out, summary


def test_files_and_keys(tiny_dataset):
    from pmnet_plugin.synthetic.synth_dataset import load_humandata
    out, summary = tiny_dataset
    for split, num in (('train', 6), ('test', 4)):
        data = load_humandata(os.path.join(out, f'{split}.npz'))
        assert data['config'] == 'pmnet_synthetic' and data['keypoints2d_convention'] == 'smpl'
        assert data['keypoints2d'].shape == (num, 24, 3) and data['keypoints3d'].shape == (num, 24, 4)
        assert data['bbox_xywh'].shape == (num, 5) and data['keypoints2d_mask'].shape == (24, )
        assert data['smpl']['body_pose'].shape == (num, 23, 3) and data['smpl']['transl'].shape == (num, 3)
        assert set(data['meta']) >= {'gender', 'clip', 'is_rare', 'frame'}
        np.testing.assert_allclose(data['keypoints3d'][:, 0, :3], 0, atol=1e-6)  # root-relative
        for rel in data['image_path']:
            path = os.path.join(out, split, str(rel))
            assert os.path.getsize(path) > 1000, path
        assert summary[split]['num'] == num


def test_rare_fraction_and_disjoint_frames(tiny_dataset):
    from pmnet_plugin.synthetic.synth_dataset import load_humandata
    out, _ = tiny_dataset
    train = load_humandata(os.path.join(out, 'train.npz'))['meta']
    test = load_humandata(os.path.join(out, 'test.npz'))['meta']
    assert int(np.sum(train['is_rare'])) == 2 and int(np.sum(test['is_rare'])) == 2
    train_keys = set(zip(train['clip'].tolist(), train['frame'].tolist()))
    test_keys = set(zip(test['clip'].tolist(), test['frame'].tolist()))
    assert not train_keys & test_keys


def test_keypoints_inside_rendered_silhouette(tiny_dataset, body_model_files):
    import cv2
    import torch

    from pmnet_plugin.models.body_models import SMPLBodyModel
    from pmnet_plugin.synthetic.synth_dataset import load_humandata
    from pmnet_plugin.visualization.renderer import MeshRenderer
    out, _ = tiny_dataset
    data = load_humandata(os.path.join(out, 'test.npz'))
    smpl, cam = data['smpl'], data['cam_param']
    body = SMPLBodyModel(body_model_files['model_path'])
    with torch.no_grad():
        res = body(betas=torch.from_numpy(smpl['betas']),
                   body_pose=torch.from_numpy(smpl['body_pose']).reshape(-1, 69),
                   global_orient=torch.from_numpy(smpl['global_orient']),
                   transl=torch.from_numpy(smpl['transl']))
    renderer = MeshRenderer()
    for i, verts in enumerate(res['vertices'].numpy()):
        _, mask = renderer.render(verts, body.faces, cam['focal'], cam['princpt'], img_size=(96, 96))
        mask = cv2.dilate(mask.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
        keypoints = np.round(data['keypoints2d'][i, :, :2]).astype(int).clip(0, 95)
        inside = mask[keypoints[:, 1], keypoints[:, 0]]
        assert inside.mean() >= 0.9, (i, inside)
        # the stored box is the rendered silhouette's box
        ys, xs = np.nonzero(mask)
        x, y, w, h, _ = data['bbox_xywh'][i]
        assert abs(xs.min() + 2 - x) <= 2 and abs(ys.min() + 2 - y) <= 2
        # the image on disk has the split's size
        img = cv2.imread(os.path.join(out, 'test', str(data['image_path'][i])))
        assert img.shape == (96, 96, 3)


def test_dataset_reader_reads_our_files(tiny_dataset):
    from pmnet_plugin.datasets.humandata import read_humandata
    from pmnet_plugin.synthetic.synth_dataset import load_humandata
    out, _ = tiny_dataset
    path = os.path.join(out, 'test.npz')
    cols, ours = read_humandata(path), load_humandata(path)
    np.testing.assert_allclose(cols['keypoints'], ours['keypoints2d'][..., :2], atol=1e-4)
    assert cols['clip'].tolist() == ours['meta']['clip'].tolist()
