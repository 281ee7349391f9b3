"""Annotation readers: HumanData (several conventions, compressed), SPIN npz, and their errors."""
import os.path as osp

import numpy as np
import pytest

from pmnet_plugin.datasets import AnnotationError, read_annotations, read_humandata
from pmnet_plugin.datasets.keypoint_conventions import (KEYPOINT_CONVENTIONS,
                                                        get_smpl24_mapping)


def test_convention_tables():
    assert len(KEYPOINT_CONVENTIONS['human_data']) == 190
    for conv in ('human_data', 'smpl', 'smpl_45', 'smpl_54'):
        dst, _ = get_smpl24_mapping(conv)
        assert dst.tolist() == list(range(24)), conv
    dst, src = get_smpl24_mapping('smpl_24')  # SPIN-24: only limbs share the SMPL definition
    assert sorted(dst.tolist()) == [4, 5, 7, 8, 16, 17, 18, 19, 20, 21]
    assert src[dst.tolist().index(8)] == 0  # SMPL right_ankle <- SPIN 'Right Ankle' (index 0)
    dst_a, _ = get_smpl24_mapping('smpl_24', approximate=True)
    assert {0, 1, 2, 12} <= set(dst_a.tolist())
    with pytest.raises(KeyError, match='Unknown keypoint convention'):
        get_smpl24_mapping('coco_wholebody_9000')


@pytest.mark.parametrize('convention', ['smpl', 'human_data', 'smpl_54'])
def test_humandata_conventions(tmp_path, hd_writer, hd_arrays, convention):
    path = hd_writer(str(tmp_path), convention=convention, images=False)
    truth = hd_arrays(convention=convention)
    cols = read_humandata(path)
    assert cols['keypoints'].shape == (6, 24, 2) and cols['keypoints_3d'].shape == (6, 24, 3)
    np.testing.assert_allclose(cols['keypoints'], truth['_kp24'][..., :2], atol=1e-5)
    root = truth['_kp3d24'][:, :1, :3]
    np.testing.assert_allclose(cols['keypoints_3d'], truth['_kp3d24'][..., :3] - root, atol=1e-5)
    assert cols['keypoints_visible'].min() == 1 and cols['has_smpl'].tolist() == [1.] * 6
    np.testing.assert_allclose(cols['smpl_pose'][:, :3], truth['smpl'].item()['global_orient'])
    np.testing.assert_allclose(cols['bbox'][0], [4, 4, 40, 44])
    assert cols['clip'][4] == 'clip1' and cols['is_rare'].tolist() == [0, 1, 0, 1, 0, 1]


def test_humandata_compressed_and_override(tmp_path, hd_writer, hd_arrays):
    full = hd_arrays(convention='human_data')
    mask = np.zeros(190, np.float32)
    _, src = get_smpl24_mapping('human_data')
    mask[src[:20]] = 1  # last 4 SMPL joints absent from the file
    kp = full['keypoints2d'][:, mask > 0]
    path = hd_writer(str(tmp_path), images=False, keypoints2d=kp, keypoints2d_mask=mask,
                     keypoints2d_convention=np.array('human_data'),
                     __keypoints_compressed__=np.array(True))
    cols = read_humandata(path)
    assert cols['keypoints_visible'][:, :20].min() == 1 and cols['keypoints_visible'][:, 20:].max() == 0
    np.testing.assert_allclose(cols['keypoints'][:, :20], full['_kp24'][:, :20, :2], atol=1e-5)
    with pytest.raises(AnnotationError, match='keypoints2d'):
        read_humandata(path, convention='smpl')  # wrong override -> joint count mismatch


def test_spin_npz(tmp_path):
    rng = np.random.default_rng(1)
    n = 4
    part = np.concatenate([rng.uniform(0, 50, (n, 24, 2)), np.ones((n, 24, 1))], -1)
    S = np.concatenate([rng.normal(0, .3, (n, 24, 3)), np.ones((n, 24, 1))], -1)
    path = osp.join(tmp_path, 'spin.npz')
    np.savez(path, imgname=np.array([f'{i}.jpg' for i in range(n)]),
             center=np.full((n, 2), 50.), scale=np.full(n, 0.5), part=part, S=S,
             pose=rng.normal(0, .2, (n, 72)), shape=rng.normal(0, 1, (n, 10)),
             has_smpl=np.array([1, 0, 1, 1]), openpose=np.zeros((n, 25, 3)))
    cols = read_annotations(path)
    np.testing.assert_allclose(cols['bbox'][0], [0, 0, 100, 100])  # side = 200 * scale
    np.testing.assert_allclose(cols['keypoints'][:, 8], part[:, 0, :2])  # right ankle
    np.testing.assert_allclose(cols['keypoints'][:, 16], part[:, 9, :2])  # left shoulder
    vis = cols['keypoints_visible'][0]
    assert vis[[4, 5, 7, 8, 16, 17, 18, 19, 20, 21]].min() == 1 and vis.sum() == 10
    hips = 0.5 * (S[:, 2, :3] + S[:, 3, :3])
    np.testing.assert_allclose(cols['keypoints_3d'][:, 7], S[:, 5, :3] - hips, atol=1e-5)
    assert cols['has_smpl'].tolist() == [1, 0, 1, 1]


@pytest.mark.parametrize('override,match', [
    (dict(bbox_xywh=None), "'bbox_xywh': missing"),
    (dict(bbox_xywh=np.zeros((5, 5), np.float32)), "'bbox_xywh': has 5 rows"),
    (dict(keypoints2d_convention=np.array('openpose_9000')), 'Unknown keypoint convention'),
])
def test_humandata_errors(tmp_path, hd_writer, override, match):
    path = hd_writer(str(tmp_path), images=False, **override)
    with pytest.raises(AnnotationError, match=match) as info:
        read_humandata(path)
    assert path in str(info.value)


def test_nan_smpl_params(tmp_path, hd_writer, hd_arrays):
    smpl = hd_arrays()['smpl'].item()
    smpl['body_pose'][3, 2, 1] = np.nan
    path = hd_writer(str(tmp_path), images=False, smpl=np.array(smpl, dtype=object))
    with pytest.raises(AnnotationError, match=r"smpl.body_pose.*NaN.*\[3\]"):
        read_humandata(path)


def test_unknown_format(tmp_path):
    path = osp.join(tmp_path, 'x.npz')
    np.savez(path, foo=np.zeros(3))
    with pytest.raises(AnnotationError, match='neither HumanData'):
        read_annotations(path)
    with pytest.raises(FileNotFoundError, match='does not exist'):
        read_annotations(osp.join(tmp_path, 'missing.npz'))


def test_our_writer_smpl_24_means_smpl_order(tmp_path, hd_writer, hd_arrays):
    truth = hd_arrays(convention='smpl')
    kw = dict(keypoints2d_convention=np.array('smpl_24'), keypoints3d_convention=np.array('smpl_24'))
    ours = read_humandata(hd_writer(str(tmp_path), images=False, config=np.array('pmnet_synthetic'),
                                    **kw))
    np.testing.assert_allclose(ours['keypoints'], truth['_kp24'][..., :2], atol=1e-5)
    other = read_humandata(hd_writer(str(tmp_path), images=False, config=np.array('mmhuman3d'), **kw))
    assert other['keypoints_visible'][0].sum() == 10  # MMHuman3D meaning: SPIN's 24 joints


def test_reads_the_offline_writer_format(tmp_path):
    """Contract with pmnet_plugin.offline.synth_dataset.write_humandata (the offline data writer)."""
    from pmnet_plugin.offline.synth_dataset import write_humandata
    rng = np.random.default_rng(3)
    n = 3
    params = dict(betas=rng.normal(size=(n, 10)), global_orient=rng.normal(size=(n, 3)),
                  body_pose=rng.normal(size=(n, 69)), clip=np.array(['walk', 'roll', 'walk']),
                  is_rare=np.array([False, True, False]), frame=np.arange(n), yaw=np.zeros(n))
    kp2d = np.concatenate([rng.uniform(0, 100, (n, 24, 2)), np.ones((n, 24, 1))], -1)
    kp3d = np.concatenate([rng.normal(size=(n, 24, 3)), np.ones((n, 24, 1))], -1)
    kp3d[:, :, :3] -= kp3d[:, :1, :3]
    labels = dict(bbox_xywh=np.tile([[10., 10., 50., 80., 1.]], (n, 1)), keypoints2d=kp2d,
                  keypoints3d=kp3d, transl=np.zeros((n, 3)))
    path = osp.join(tmp_path, 'train.npz')
    write_humandata(path, params, labels, img_size=256, focal=5000.)
    cols = read_annotations(path)
    np.testing.assert_allclose(cols['keypoints'], kp2d[..., :2], atol=1e-4)  # SMPL order kept
    np.testing.assert_allclose(cols['keypoints_3d'], kp3d[..., :3], atol=1e-5)
    np.testing.assert_allclose(cols['smpl_pose'][:, 3:], params['body_pose'], atol=1e-6)
    assert cols['clip'].tolist() == ['walk', 'roll', 'walk'] and cols['is_rare'].tolist() == [0, 1, 0]
    assert cols['img_path'][1] == 'images/000001.jpg' and cols['has_smpl'].min() == 1
