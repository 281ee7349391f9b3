"""Annotation readers: HumanData (several conventions, compressed), SPIN npz, and their errors."""
import os.path as osp

import numpy as np
import pytest

from pmnet_plugin.datasets import AnnotationError, read_annotations, read_humandata
from pmnet_plugin.datasets.keypoint_conventions import (KEYPOINT_CONVENTIONS, SMPL_KEYPOINTS,
                                                        SPIN_24_KEYPOINTS, convert_keypoints,
                                                        flip_indices, get_mapping)


def test_convention_tables():
    assert len(KEYPOINT_CONVENTIONS['human_data']) == 190
    assert len(set(KEYPOINT_CONVENTIONS['human_data'])) == 190
    for conv, names in KEYPOINT_CONVENTIONS.items():  # human_data holds every convention's names
        assert set(names) <= set(KEYPOINT_CONVENTIONS['human_data']), conv
    for conv in ('human_data', 'smpl', 'smpl_45', 'smpl_54'):
        dst, src = get_mapping(conv, 'smpl')
        assert dst.tolist() == list(range(24)), conv
    dst, src = get_mapping('smpl_24', 'smpl')  # SPIN-24: only limbs share the SMPL definition
    assert sorted(dst.tolist()) == [4, 5, 7, 8, 16, 17, 18, 19, 20, 21]
    assert src[dst.tolist().index(8)] == 0  # SMPL right_ankle <- SPIN 'Right Ankle' (index 0)
    with pytest.raises(KeyError, match='Unknown keypoint convention'):
        get_mapping('coco_wholebody_9000', 'smpl')
    names = KEYPOINT_CONVENTIONS['human_data']
    flip = flip_indices(names)
    assert names[flip[names.index('left_hip_extra')]] == 'right_hip_extra'
    assert names[flip[names.index('left_eye_openpose')]] == 'right_eye_openpose'
    assert flip[names.index('pelvis_extra')] == names.index('pelvis_extra')
    assert [flip[i] for i in flip] == list(range(190))  # an involution


def test_convert_keypoints_by_name():
    keypoints = np.arange(17 * 3, dtype=np.float32).reshape(1, 17, 3)
    out, valid = convert_keypoints(keypoints, 'h36m', 'human_data')
    names = KEYPOINT_CONVENTIONS['human_data']
    assert valid.sum() == 17
    for i, name in enumerate(KEYPOINT_CONVENTIONS['h36m']):
        np.testing.assert_array_equal(out[0, names.index(name)], keypoints[0, i])
    _, valid = convert_keypoints(keypoints, 'h36m', 'smpl')
    assert valid.sum() == 10  # H36M's pelvis, hips, spine, neck and head are not SMPL's joints


@pytest.mark.parametrize('convention', ['smpl', 'human_data', 'smpl_54'])
def test_humandata_conventions(tmp_path, hd_writer, hd_arrays, convention):
    path = hd_writer(str(tmp_path), convention=convention, images=False)
    truth = hd_arrays(convention=convention)
    cols = read_humandata(path)
    order = [cols['keypoints_names'].tolist().index(n) for n in SMPL_KEYPOINTS]
    assert cols['keypoints'].shape == (6, 24, 2) and cols['keypoints_3d'].shape == (6, 24, 3)
    assert cols['keypoints_3d_names'].tolist() == cols['keypoints_names'].tolist()
    np.testing.assert_allclose(cols['keypoints'][:, order], truth['_keypoints_smpl'][..., :2], atol=1e-5)
    np.testing.assert_allclose(cols['keypoints_3d'][:, order], truth['_keypoints_3d_smpl'][..., :3], atol=1e-5)
    assert cols['keypoints_visible'].min() == 1 and cols['has_smpl'].tolist() == [1.] * 6
    np.testing.assert_allclose(cols['smpl_pose'][:, :3], truth['smpl'].item()['global_orient'])
    np.testing.assert_allclose(cols['bbox'][0], [4, 4, 40, 44])
    assert cols['clip'][4] == 'clip1' and cols['is_rare'].tolist() == [0, 1, 0, 1, 0, 1]
    assert str(cols['keypoints_key']) == 'keypoints2d' and str(cols['smpl_key']) == 'smpl'


def test_humandata_compressed_and_override(tmp_path, hd_writer, hd_arrays):
    full = hd_arrays(convention='human_data')
    mask = np.zeros(190, np.float32)
    dst, src = get_mapping('smpl', 'human_data')
    mask[dst[:20]] = 1  # last 4 SMPL joints absent from the file
    keypoints = full['keypoints2d'][:, mask > 0]
    path = hd_writer(str(tmp_path), images=False, keypoints2d=keypoints, keypoints2d_mask=mask,
                     keypoints2d_convention=np.array('human_data'),
                     __keypoints_compressed__=np.array(True))
    cols = read_humandata(path)
    assert cols['keypoints_names'].tolist() == [SMPL_KEYPOINTS[i] for i in sorted(src[:20])]
    for j, name in enumerate(cols['keypoints_names']):
        np.testing.assert_allclose(cols['keypoints'][:, j], full['_keypoints_smpl'][:, SMPL_KEYPOINTS.index(name), :2],
                                   atol=1e-5)
    with pytest.raises(AnnotationError, match='keypoints2d'):
        read_humandata(path, source_joint_set='smpl')  # wrong override -> joint count mismatch


def test_spin_npz(tmp_path):
    rng = np.random.default_rng(1)
    n = 4
    part = np.concatenate([rng.uniform(0, 50, (n, 24, 2)), np.ones((n, 24, 1))], -1)
    S = np.concatenate([rng.normal(0, .3, (n, 24, 3)), np.ones((n, 24, 1))], -1)
    openpose = np.zeros((n, 25, 3))
    openpose[:, 0] = [10., 20., 0.7]  # a nose detection only
    path = osp.join(tmp_path, 'spin.npz')
    np.savez(path, imgname=np.array([f'{i}.jpg' for i in range(n)]),
             center=np.full((n, 2), 50.), scale=np.full(n, 0.5), part=part, S=S,
             pose=rng.normal(0, .2, (n, 72)), shape=rng.normal(0, 1, (n, 10)),
             has_smpl=np.array([1, 0, 1, 1]), openpose=openpose)
    cols = read_annotations(path)
    np.testing.assert_allclose(cols['bbox'][0], [0, 0, 100, 100])  # side = 200 * scale
    assert cols['keypoints_names'].tolist() == ['nose_openpose'] + SPIN_24_KEYPOINTS
    np.testing.assert_allclose(cols['keypoints'][:, 1:], part[..., :2])
    np.testing.assert_allclose(cols['keypoints_visible'][:, 0], 0.7)
    assert cols['keypoints_3d_names'].tolist() == SPIN_24_KEYPOINTS
    np.testing.assert_allclose(cols['keypoints_3d'], S[..., :3], atol=1e-6)
    assert cols['has_smpl'].tolist() == [1, 0, 1, 1]
    assert str(cols['keypoints_key']) == 'openpose+part' and str(cols['keypoints_3d_key']) == 'S'


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
    np.testing.assert_allclose(ours['keypoints'], truth['_keypoints_smpl'][..., :2], atol=1e-5)
    assert ours['keypoints_names'].tolist() == SMPL_KEYPOINTS
    other = read_humandata(hd_writer(str(tmp_path), images=False, config=np.array('mmhuman3d'), **kw))
    assert other['keypoints_names'].tolist() == SPIN_24_KEYPOINTS  # MMHuman3D meaning: SPIN's 24


def test_reads_the_offline_writer_format(tmp_path):
    """Contract with pmnet_plugin.synthetic.synth_dataset.write_humandata (the offline data writer)."""
    from pmnet_plugin.synthetic.synth_dataset import write_humandata
    rng = np.random.default_rng(3)
    n = 3
    params = dict(betas=rng.normal(size=(n, 10)), global_orient=rng.normal(size=(n, 3)),
                  body_pose=rng.normal(size=(n, 69)), clip=np.array(['walk', 'roll', 'walk']),
                  is_rare=np.array([False, True, False]), frame=np.arange(n), yaw=np.zeros(n))
    keypoints = np.concatenate([rng.uniform(0, 100, (n, 24, 2)), np.ones((n, 24, 1))], -1)
    keypoints_3d = np.concatenate([rng.normal(size=(n, 24, 3)), np.ones((n, 24, 1))], -1)
    keypoints_3d[:, :, :3] -= keypoints_3d[:, :1, :3]
    labels = dict(bbox_xywh=np.tile([[10., 10., 50., 80., 1.]], (n, 1)), keypoints2d=keypoints,
                  keypoints3d=keypoints_3d, transl=np.zeros((n, 3)))
    path = osp.join(tmp_path, 'train.npz')
    write_humandata(path, params, labels, img_size=256, focal=5000.)
    cols = read_annotations(path)
    np.testing.assert_allclose(cols['keypoints'], keypoints[..., :2], atol=1e-4)  # SMPL order kept
    np.testing.assert_allclose(cols['keypoints_3d'], keypoints_3d[..., :3], atol=1e-5)
    np.testing.assert_allclose(cols['smpl_pose'][:, 3:], params['body_pose'], atol=1e-6)
    assert cols['clip'].tolist() == ['walk', 'roll', 'walk'] and cols['is_rare'].tolist() == [0, 1, 0]
    assert cols['img_path'][1] == 'images/000001.jpg' and cols['has_smpl'].min() == 1
