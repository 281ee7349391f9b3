"""SMPLImageDataset: data_info contract, filters, detections, errors, pipelines, bad images."""
import json
import os
import os.path as osp

import numpy as np
import pytest
from mmengine.config import Config

from pmnet_plugin.datasets import SMPLImageDataset

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# the training and test pipelines of the SPIN-mix configs (224x224 crops)
_CFG = Config.fromfile(osp.join(ROOT, 'configs', '_base_', 'mesh_res50_spin_mix.py'))
TRAIN_PIPELINE = _CFG.train_pipeline
TEST_PIPELINE = _CFG.val_pipeline


def _build(folder, **kwargs):
    kwargs.setdefault('ann_file', 'ann.npz')
    kwargs.setdefault('data_prefix', dict(img=''))
    return SMPLImageDataset(data_root=folder, **kwargs)


def test_data_info_contract(humandata_dir):
    ds = _build(humandata_dir, dataset_tag='synth')
    assert len(ds) == 6 and ds.metainfo['num_keypoints'] == 24
    assert ds.metainfo['flip_indices'][:3] == [0, 2, 1]
    info = ds.get_data_info(3)
    shapes = dict(bbox=(1, 4), bbox_score=(1, ), keypoints=(1, 24, 2), keypoints_visible=(1, 24),
                  keypoints_3d=(1, 24, 3), keypoints_3d_visible=(1, 24), smpl_pose=(1, 72),
                  smpl_betas=(1, 10), has_smpl=(1, ))
    for key, shape in shapes.items():
        assert info[key].shape == shape, key
    assert info['img_path'] == osp.join(humandata_dir, 'imgs/001.jpg')
    assert info['img_id'] == 1 and info['id'] == 3 and info['sample_idx'] == 3
    assert info['dataset_tag'] == 'synth' and info['clip'] == 'clip0' and info['is_rare'] == 1.
    np.testing.assert_allclose(info['keypoints_3d'][0, 0], 0., atol=1e-6)  # root-relative


def test_filters_and_indices(tmp_path, hd_writer, hd_arrays):
    arrays = hd_arrays()
    keypoints = arrays['keypoints2d'].copy()
    keypoints[:2, :, 2] = 0  # samples 0 and 1 have no 2D joints
    hd_writer(str(tmp_path), keypoints2d=keypoints)
    ds = _build(str(tmp_path), filter_cfg=dict(min_keypoints=1))
    assert len(ds) == 4 and ds.get_data_info(0)['id'] == 2
    assert len(_build(str(tmp_path), indices=3)) == 3
    with pytest.raises(ValueError, match='no samples left after filtering'):
        _build(str(tmp_path), filter_cfg=dict(bbox_score_thr=0.95))


def test_2d_only_samples_have_zero_3d_weight(tmp_path, hd_writer):
    hd_writer(str(tmp_path), smpl=None, keypoints3d=None)
    ds = _build(str(tmp_path))
    info = ds.get_data_info(0)
    assert info['has_smpl'][0] == 0 and info['keypoints_3d_visible'].max() == 0
    assert len(_build(str(tmp_path), filter_cfg=dict(min_keypoints=1))) == 6
    with pytest.raises(ValueError, match='no samples left'):
        _build(str(tmp_path), filter_cfg=dict(require_smpl=True))


def test_missing_image_folder(humandata_dir):
    with pytest.raises(FileNotFoundError, match='image folder'):
        _build(humandata_dir, data_prefix=dict(img='nope'))


def test_bbox_file(humandata_dir):
    dets = [dict(image_id=0, bbox=[5, 5, 30, 30], score=0.8, category_id=1),
            dict(file_name='imgs/002.jpg', bbox=[0, 0, 10, 10], score=0.3),
            dict(image_id=1, bbox=[0, 0, 5, 5], score=0.9, category_id=2)]
    with open(osp.join(humandata_dir, 'dets.json'), 'w') as f:
        json.dump(dets, f)
    ds = SMPLImageDataset(ann_file='ann.npz', data_root=humandata_dir, bbox_file='dets.json',
                          test_mode=True)
    assert len(ds) == 2
    info = ds.get_data_info(1)
    np.testing.assert_allclose(info['bbox'], [[0, 0, 10, 10]])
    assert info['img_id'] == 2 and info['id'] in (4, 5) and info['bbox_score'][0] == 0.3
    ds = SMPLImageDataset(ann_file='ann.npz', data_root=humandata_dir, bbox_file='dets.json',
                          test_mode=True, filter_cfg=dict(bbox_score_thr=0.5))
    assert len(ds) == 1
    with pytest.raises(ValueError, match='test_mode'):
        SMPLImageDataset(ann_file='ann.npz', data_root=humandata_dir, bbox_file='dets.json')


def test_train_pipeline(humandata_dir):
    ds = _build(humandata_dir, pipeline=TRAIN_PIPELINE)
    np.random.seed(0)
    for i in range(len(ds)):
        out = ds[i]
        assert tuple(out['inputs'].shape) == (3, 224, 224)
        labels = out['data_samples'].gt_instance_labels
        assert tuple(labels.keypoint_labels.shape) == (1, 24, 2)
        assert tuple(labels.keypoints_3d.shape) == (1, 24, 3)
        assert tuple(labels.smpl_pose.shape) == (1, 72) and tuple(labels.has_smpl.shape) == (1, )
        assert labels.keypoints_3d_weights.sum() == 24 and labels.has_smpl.item() == 1
        meta = out['data_samples'].metainfo
        assert meta['dataset_tag'] == 'ann' and meta['clip'].startswith('clip') and 'is_rare' in meta
        gt = out['data_samples'].gt_instances
        assert gt.keypoints_3d.shape == (1, 24, 3) and gt.smpl_betas.shape == (1, 10)


def test_test_pipeline_keeps_raw_labels(humandata_dir, hd_arrays):
    ds = _build(humandata_dir, pipeline=TEST_PIPELINE, test_mode=True)
    out = ds[2]
    gt = out['data_samples'].gt_instances
    truth = hd_arrays()
    np.testing.assert_allclose(gt.keypoints[0], truth['_keypoints_smpl'][2, :, :2], atol=1e-5)
    np.testing.assert_allclose(gt.smpl_pose[0, 3:], truth['smpl'].item()['body_pose'][2].ravel())
    labels = out['data_samples'].gt_instance_labels
    # bbox (4, 4, 40, 44) * 1.2 padding, square to 224: centre (22, 24), side 48
    expected = ((truth['_keypoints_smpl'][2, :, :2] - [22., 24.]) / 48. * 224. + 112.) / 112. - 1.
    np.testing.assert_allclose(labels.keypoint_labels[0].numpy(), expected, atol=1e-3)


def test_bad_images_are_reported_and_skipped(humandata_dir):
    os.remove(osp.join(humandata_dir, 'imgs/000.jpg'))
    with open(osp.join(humandata_dir, 'imgs/001.jpg'), 'wb') as f:
        f.write(b'not a jpeg')
    ds = _build(humandata_dir, pipeline=TRAIN_PIPELINE)
    np.random.seed(1)
    with pytest.warns(UserWarning, match='unreadable image'):
        for i in range(4):
            out = ds[i]
            assert out['data_samples'].metainfo['img_path'].endswith('002.jpg')
    assert ds.num_bad_images >= 4  # random replacements may hit bad images too
    test_ds = _build(humandata_dir, pipeline=TEST_PIPELINE, test_mode=True)
    with pytest.raises(Exception, match='000.jpg'):
        test_ds[0]


def test_subsets(humandata_dir):
    ds = _build(humandata_dir)
    sub = ds.get_subset([5, 1])
    assert len(sub) == 2 and len(ds) == 6 and sub.get_data_info(0)['id'] == 5
    ds.get_subset_(3)
    assert len(ds) == 3 and ds.get_data_info(2)['id'] == 2
