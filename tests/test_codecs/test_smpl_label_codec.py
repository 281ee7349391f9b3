"""SMPLLabelCodec: normalisation, weights, round trip, packing into the data-sample contract."""
import numpy as np
from mmpose.datasets.transforms import GenerateTarget, PackPoseInputs

from pmnet_plugin.codecs import SMPLLabelCodec


def _inputs(rng):
    return dict(
        keypoints=rng.uniform(-20, 240, (1, 24, 2)).astype(np.float32),
        keypoints_visible=np.r_[np.ones(20), np.zeros(4)][None].astype(np.float32),
        keypoints_3d=rng.normal(0, .3, (1, 24, 3)).astype(np.float32),
        keypoints_3d_visible=np.ones((1, 24), np.float32),
        smpl_pose=rng.normal(0, .2, (1, 72)).astype(np.float32),
        smpl_betas=rng.normal(0, 1, (1, 10)).astype(np.float32),
        has_smpl=np.ones(1, np.float32))


def test_encode_decode_roundtrip():
    rng = np.random.default_rng(0)
    codec = SMPLLabelCodec(input_size=(224, 224))
    inp = _inputs(rng)
    enc = codec.encode(**inp)
    np.testing.assert_allclose(enc['keypoint_labels'], inp['keypoints'] / 112. - 1., atol=1e-6)
    assert enc['keypoint_weights'].tolist() == inp['keypoints_visible'].tolist()
    np.testing.assert_allclose(codec.decode(enc['keypoint_labels'])[0], inp['keypoints'], atol=1e-4)
    np.testing.assert_allclose(enc['smpl_pose_label'], inp['smpl_pose'])
    assert enc['has_smpl_label'].tolist() == [1.]
    masked = SMPLLabelCodec(input_size=(224, 224), mask_outside=True).encode(**inp)
    outside = (np.abs(enc['keypoint_labels']) > 1).any(-1)
    assert outside.any() and masked['keypoint_weights'][outside].max() == 0


def test_missing_3d_and_smpl():
    enc = SMPLLabelCodec((192, 256)).encode(np.full((1, 24, 2), 96.), None)
    assert enc['keypoints_3d_weights'].max() == 0 and enc['has_smpl_label'].tolist() == [0.]
    np.testing.assert_allclose(enc['keypoint_labels'][0, 0], [0., 96. / 128. - 1.])


def test_generate_target_and_pack():
    rng = np.random.default_rng(1)
    inp = _inputs(rng)
    results = dict(inp, img=np.zeros((224, 224, 3), np.uint8), transformed_keypoints=inp['keypoints'],
                   bbox=np.array([[0, 0, 100, 100]], np.float32), bbox_score=np.ones(1, np.float32),
                   bbox_scale=np.array([[100., 100.]], np.float32), clip='c', dataset_tag='t')
    results = GenerateTarget(encoder=dict(type='SMPLLabelCodec'))(results)
    packed = PackPoseInputs(meta_keys=('clip', 'dataset_tag'))(results)['data_samples']
    labels = packed.gt_instance_labels
    assert set(labels.keys()) == {'keypoint_labels', 'keypoint_weights', 'keypoints_3d',
                                  'keypoints_3d_weights', 'keypoints_3d_root', 'smpl_pose',
                                  'smpl_betas', 'has_smpl'}
    # no root given: joint 0 (SMPL's pelvis)
    assert labels.keypoints_3d_root[0].tolist() == [1.] + [0.] * 23
    assert tuple(labels.keypoints_3d.shape) == (1, 24, 3) and labels.has_smpl.dtype.is_floating_point
    gt = packed.gt_instances
    assert {'bboxes', 'bbox_scores', 'keypoints', 'keypoints_visible', 'keypoints_3d', 'smpl_pose',
            'smpl_betas', 'has_smpl'} <= set(gt.keys())
    assert packed.metainfo['clip'] == 'c'


def test_root_weights_pass_through_for_any_joint_count():
    rng = np.random.default_rng(2)
    k = 190
    root = np.zeros((1, k), np.float32)
    root[0, [145, 144]] = 0.5  # the two LSP hips of the human_data set
    enc = SMPLLabelCodec().encode(rng.uniform(0, 224, (1, k, 2)), np.ones((1, k)),
                                  keypoints_3d=rng.normal(size=(1, k, 3)), keypoints_3d_root=root)
    assert enc['keypoint_labels'].shape == (1, k, 2) and enc['keypoints_3d_label'].shape == (1, k, 3)
    np.testing.assert_array_equal(enc['keypoints_3d_root_label'], root)
