"""init_mesh_model / inference_mesh on a random-weight PM-Net built from the offline config."""
import numpy as np
import pytest
import torch
from mesh_model_setup import mesh_config, save_random_checkpoint, synthetic_person_image

from pmnet_plugin.apis import inference_mesh, init_mesh_model


@pytest.fixture(scope='module')
def model(body_model_files):
    torch.manual_seed(0)
    return init_mesh_model(mesh_config(body_model_files))


def test_init_sets_meta_and_eval(model):
    assert not model.training
    assert model.dataset_meta['num_keypoints'] == 24
    assert len(model.dataset_meta['skeleton_links']) == 23


def test_checkpoint_round_trip(model, body_model_files, tmp_path):
    ckpt = save_random_checkpoint(model, str(tmp_path / 'm.pth'))
    other = init_mesh_model(mesh_config(body_model_files), ckpt)
    for (k, a), (_, b) in zip(model.state_dict().items(), other.state_dict().items()):
        torch.testing.assert_close(a, b, msg=k)


def test_inference_boxes_batches_and_fields(model, body_model_files):
    img = synthetic_person_image(body_model_files)
    boxes = np.array([[40, 30, 120, 190, 0.9], [10, 10, 60, 90, 0.5], [70, 20, 150, 120, 0.4]])
    one_batch = inference_mesh(model, img, boxes, batch_size=8)
    small_batches = inference_mesh(model, img, boxes, batch_size=2)
    assert len(one_batch) == len(small_batches) == 3
    for a, b, box in zip(one_batch, small_batches, boxes):
        p = a.pred_instances
        assert p.smpl_pose.shape == (1, 72) and p.smpl_betas.shape == (1, 10)
        assert p.cam.shape == (1, 3) and p.vertices.shape == (1, 6890, 3)
        assert p.keypoints.shape == (1, 24, 2) and p.keypoints_3d.shape == (1, 24, 3)
        assert p.proto_id.shape == (1,) and p.proto_score.shape == (1,)
        np.testing.assert_allclose(p.bboxes[0], box[:4], atol=1e-4)
        np.testing.assert_allclose(p.bbox_scores[0], box[4], atol=1e-6)
        np.testing.assert_allclose(p.input_center[0], (box[:2] + box[2:4]) / 2, atol=1e-3)
        np.testing.assert_allclose(p.smpl_pose, b.pred_instances.smpl_pose, atol=1e-4)
        # keypoints are in image px: inside the (padded) crop
        half = p.input_scale[0] / 2
        assert (np.abs(p.keypoints[0] - p.input_center[0]) <= half * 1.5).all()


def test_whole_image_and_xywh_and_gray(model, body_model_files):
    img = synthetic_person_image(body_model_files)
    whole = inference_mesh(model, img)
    assert len(whole) == 1
    np.testing.assert_allclose(whole[0].pred_instances.bboxes[0], [0, 0, 160, 200])
    xywh = inference_mesh(model, img, [[40, 30, 80, 160]], bbox_format='xywh')
    np.testing.assert_allclose(xywh[0].pred_instances.bboxes[0], [40, 30, 120, 190])
    gray = inference_mesh(model, img[..., 0], [[40, 30, 120, 190]])
    assert gray[0].pred_instances.vertices.shape == (1, 6890, 3)
