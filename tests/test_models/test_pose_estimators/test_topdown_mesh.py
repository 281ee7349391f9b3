import math

import numpy as np
import pytest
import torch
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData
from mmpose.registry import MODELS
from mmpose.structures import PoseDataSample

import pmnet_plugin  # noqa: F401  (registers the components)
from pmnet_plugin.prototypes import build_prototypes, save_prototypes

SIZE = 64  # small crops keep the ResNet-18 forward fast on CPU


def _samples(batch_size=2):
    out = []
    for i in range(batch_size):
        pose = torch.zeros(1, 72)
        pose[0, 0] = math.pi
        sample = PoseDataSample(metainfo=dict(
            input_size=(SIZE, SIZE), input_center=np.array([150.0 + i, 90.0]),
            input_scale=np.array([128.0, 128.0])))
        sample.gt_instance_labels = InstanceData(
            keypoint_labels=torch.zeros(1, 24, 2), keypoint_weights=torch.ones(1, 24),
            keypoints_3d=torch.zeros(1, 24, 3), keypoints_3d_weights=torch.ones(1, 24),
            smpl_pose=pose, smpl_betas=torch.zeros(1, 10), has_smpl=torch.ones(1))
        sample.gt_instances = InstanceData(bboxes=np.array([[86.0, 26.0, 214.0, 154.0]]),
                                           bbox_scores=np.ones(1))
        out.append(sample)
    return out


@pytest.fixture(scope='module', params=['HMRHead', 'PrototypeMemoryHead'])
def model(request, body_model_files, tmp_path_factory):
    head = dict(
        type=request.param, in_channels=512, hidden_dims=(64, 64),
        body_model=dict(type='SMPLBodyModel', model_path=body_model_files['model_path'],
                        joint_regressor_h36m=body_model_files['h36m_regressor']),
        mean_params=body_model_files['mean_params'])
    if request.param == 'PrototypeMemoryHead':
        poses = np.random.default_rng(0).normal(0, 0.3, (20, 72))
        path = str(tmp_path_factory.mktemp('protos') / 'protos.npz')
        save_prototypes(path, build_prototypes(poses, k=4))
        head.update(prototype_file=path, num_prototypes=4, selector_hidden=16)
    cfg = dict(
        type='TopdownMeshEstimator',
        data_preprocessor=dict(type='PoseDataPreprocessor', mean=[123.675, 116.28, 103.53],
                               std=[58.395, 57.12, 57.375], bgr_to_rgb=True),
        backbone=dict(type='ResNet', depth=18, out_indices=(3, )),
        neck=dict(type='GlobalAveragePooling'),
        head=head,
        test_cfg=dict(output_vertices=True))
    init_default_scope('mmpose')  # the data preprocessor is built through the default scope
    return MODELS.build(cfg)


def test_loss_mode(model):
    model.train()
    model.zero_grad()
    inputs = torch.rand(2, 3, SIZE, SIZE)
    losses = model.forward(inputs, _samples(), mode='loss')
    assert 'loss_keypoints_3d' in losses and 'mpjpe' in losses
    total = sum(v for k, v in losses.items() if k.startswith('loss_'))
    assert torch.isfinite(total)
    total.backward()
    grad = model.backbone.conv1.weight.grad
    assert grad is not None and grad.abs().sum() > 0  # gradients reach the backbone


def test_predict_maps_keypoints_to_image_px(model):
    model.eval()
    inputs = torch.rand(2, 3, SIZE, SIZE)
    with torch.no_grad():
        head_preds = model.head.predict(model.extract_feat(inputs), _samples())
        results = model.forward(inputs, _samples(), mode='predict')
    assert len(results) == 2
    for i, res in enumerate(results):
        pred = res.pred_instances
        meta = res.metainfo
        expected = (head_preds[i].keypoints / SIZE * meta['input_scale'] + meta['input_center'] -
                    0.5 * meta['input_scale'])
        assert np.allclose(pred.keypoints, expected, atol=1e-3)
        assert pred.vertices.shape == (1, 6890, 3) and pred.smpl_pose.shape == (1, 72)
        assert pred.keypoints_3d.shape == (1, 24, 3) and pred.cam.shape == (1, 3)
        assert pred.bboxes.shape == (1, 4) and 'keypoints_visible' in pred
        if 'PrototypeMemoryHead' in type(model.head).__name__:
            assert pred.proto_id.shape == (1, ) and pred.proto_score.shape == (1, )


def test_predict_under_bf16_autocast_returns_float32(model):
    model.eval()
    with torch.no_grad(), torch.autocast('cpu', dtype=torch.bfloat16):
        results = model.forward(torch.rand(1, 3, SIZE, SIZE), _samples(1), mode='predict')
    pred = results[0].pred_instances
    for key, value in pred.all_items():
        if key.startswith('bbox'):  # copied from gt_instances unchanged
            continue
        if isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating):
            assert value.dtype == np.float32, key
    assert np.isfinite(pred.vertices).all()


def test_flip_test_is_rejected(model):
    model.test_cfg['flip_test'] = True
    try:
        with pytest.raises(NotImplementedError, match='flip_test'):
            model.forward(torch.rand(1, 3, SIZE, SIZE), _samples(1), mode='predict')
    finally:
        model.test_cfg['flip_test'] = False


def test_train_step_updates_discriminator_with_one_optim_wrapper(body_model_files,
                                                                 real_pose_file):
    from mmengine.optim import OptimWrapper
    init_default_scope('mmpose')
    model = MODELS.build(dict(
        type='TopdownMeshEstimator',
        data_preprocessor=dict(type='PoseDataPreprocessor'),
        backbone=dict(type='ResNet', depth=18, out_indices=(3, )),
        neck=dict(type='GlobalAveragePooling'),
        head=dict(type='HMRHead', in_channels=512, hidden_dims=(64, 64),
                  body_model=dict(type='SMPLBodyModel',
                                  model_path=body_model_files['model_path']),
                  mean_params=body_model_files['mean_params'],
                  loss=dict(type='MeshLoss', use_adversarial=True, adversarial_weight=1.0,
                            real_pose_file=real_pose_file))))
    D = model.head.loss_module.discriminator
    before_d = D.pose_mlp[-1].weight.detach().clone()
    before_enc = model.head.regressor.dec_pose.weight.detach().clone()
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.01))
    data = dict(inputs=[torch.randint(0, 255, (3, SIZE, SIZE), dtype=torch.uint8)] * 2,
                data_samples=_samples())
    log_vars = model.train_step(data, wrapper)
    assert {'loss', 'loss_adv', 'loss_disc', 'acc_disc'} <= set(log_vars)
    assert not torch.equal(D.pose_mlp[-1].weight, before_d)
    assert not torch.equal(model.head.regressor.dec_pose.weight, before_enc)
