"""MeshVisualizer: mesh overlay at the weak-perspective camera's place, side view, skeleton."""
import uuid

import cv2
import numpy as np
import pytest
from mmengine.structures import InstanceData
from mmpose.registry import VISUALIZERS
from mmpose.structures import PoseDataSample, merge_data_samples

from pmnet_plugin.apis.inference import smpl24_metainfo
from pmnet_plugin.models.body_models.smpl_io import load_smpl_model_file
from pmnet_plugin.visualization.mesh_visualizer import MeshVisualizer, crop_params

H, W = 240, 320


@pytest.fixture(scope='module')
def body(body_model_files):
    data = load_smpl_model_file(body_model_files['model_path'])
    # SMPL's rest pose is y-up; the camera frame is y-down (rotation by pi about x).
    verts = data['v_template'] * np.array([1.0, -1.0, -1.0])
    return verts - verts.mean(0), data['f']


def _vis(**kwargs) -> MeshVisualizer:
    return MeshVisualizer(name=f'vis_{uuid.uuid4().hex}', **kwargs)


def _sample(verts, center=(110., 120.), size=200., cam=(0.9, 0.05, -0.02)) -> PoseDataSample:
    keypoints = np.array(center)[None, None] + np.random.RandomState(0).uniform(-40, 40, (1, 24, 2))
    half = size / 2.5  # box = crop / 1.25
    inst = InstanceData(
        vertices=verts[None].astype(np.float32),
        cam=np.array([cam], np.float32),
        keypoints=keypoints.astype(np.float32),
        keypoint_scores=np.ones((1, 24), np.float32),
        bboxes=np.array([[center[0] - half, center[1] - half, center[0] + half,
                          center[1] + half]], np.float32),
        bbox_scores=np.ones(1, np.float32),
        input_center=np.array([center], np.float32),
        input_scale=np.array([[size, size]], np.float32),
        proto_id=np.array([3]), proto_score=np.array([0.7], np.float32))
    return PoseDataSample(pred_instances=inst, metainfo=dict(input_size=(224, 224)))


def test_overlay_matches_weak_perspective_projection(body):
    verts, faces = body
    vis = _vis()
    vis.set_faces(faces)
    img = np.full((H, W, 3), 40, np.uint8)
    cam, center, size = np.array([0.9, 0.05, -0.02]), np.array([110., 120.]), 200.
    sample = _sample(verts, tuple(center), size, tuple(cam))
    overlay, side, mask = vis.draw_meshes(img, sample, sample.pred_instances)
    assert overlay.shape == img.shape and side.shape == img.shape and mask.shape == (H, W)
    assert mask.sum() > 500
    assert (overlay[~mask] == 40).all() and (overlay[mask] != 40).any(axis=-1).mean() > 0.9
    # weak perspective (docs/design.md): x_img = c + s (X + t) * size / 2
    proj = center + cam[0] * (verts[:, :2] + cam[1:]) * size / 2
    ys, xs = np.nonzero(mask)
    assert abs(xs.min() - proj[:, 0].min()) < 3 and abs(xs.max() - proj[:, 0].max()) < 3
    assert abs(ys.min() - proj[:, 1].min()) < 3 and abs(ys.max() - proj[:, 1].max()) < 3
    # the side view shows the same body turned by 90 degrees: same height, other width
    side_mask = (side != 255).any(-1)
    sy = np.nonzero(side_mask)[0]
    assert abs(int(sy.min()) - int(ys.min())) < 6 and abs(int(sy.max()) - int(ys.max())) < 6
    assert side_mask.sum() != mask.sum()


def test_add_datasample_panels_and_file(body, tmp_path):
    verts, faces = body
    vis = _vis()
    vis.set_dataset_meta({**smpl24_metainfo(), 'faces': faces})
    img = np.full((H, W, 3), 90, np.uint8)
    out = tmp_path / 'vis.png'
    drawn = vis.add_datasample('x', img, _sample(verts), draw_gt=False, draw_bbox=True,
                               out_file=str(out))
    assert drawn.shape == (H, 3 * W, 3)
    saved = cv2.imread(str(out))
    assert saved.shape == (H, 3 * W, 3)
    np.testing.assert_array_equal(saved[..., ::-1], drawn)
    kpt_panel = drawn[:, :W]
    assert (kpt_panel != 90).any(-1).sum() > 100  # skeleton + box + label
    assert (drawn[:, W:2 * W] != 90).any(-1).sum() > 500  # mesh


def test_keypoint_colours_from_dataset_meta(body):
    verts, _ = body
    vis = _vis(radius=4)
    meta = smpl24_metainfo()
    vis.set_dataset_meta(meta)
    assert [tuple(link) for link in vis.skeleton] == [tuple(link) for link in meta['skeleton_links']]
    sample = _sample(verts)
    img = np.zeros((H, W, 3), np.uint8)
    out = vis.draw_instances_kpts(img, sample.pred_instances)
    for j in (0, 7, 16):
        x, y = sample.pred_instances.keypoints[0, j].astype(int)
        assert tuple(out[y, x]) != (0, 0, 0)
    # a score below the threshold hides the joint
    sample.pred_instances.keypoint_scores[:] = 0.0
    out = vis.draw_instances_kpts(img, sample.pred_instances, kpt_thr=0.3)
    assert out.sum() == 0


def test_merged_samples_and_registry_build(body, body_model_files):
    # mmpose's VISUALIZERS would import mmpose.visualization (torchvision) without this fix
    import pmnet_plugin.compat.registry  # noqa: F401
    verts, _ = body
    vis = VISUALIZERS.build(dict(type='MeshVisualizer', name=f'v{uuid.uuid4().hex}',
                                 smpl_model_path=body_model_files['model_path']))
    assert isinstance(vis, MeshVisualizer)
    a = _sample(verts, center=(80., 120.), size=180.)
    b = _sample(verts, center=(240., 130.), size=120.)
    merged = merge_data_samples([a, b])
    centers, sizes = crop_params(merged, merged.pred_instances)
    np.testing.assert_allclose(centers, [[80, 120], [240, 130]])
    panels = vis.draw_pred_panels(np.zeros((H, W, 3), np.uint8), merged)
    mask = panels['mask']
    assert mask[:, :W // 2].sum() > 200 and mask[:, W // 2 + 40:].sum() > 200


def test_no_instances_and_missing_faces(body):
    verts, _ = body
    vis = _vis()
    img = np.full((H, W, 3), 7, np.uint8)
    panels = vis.draw_pred_panels(img, PoseDataSample(pred_instances=InstanceData()))
    np.testing.assert_array_equal(panels['overlay'], img)
    assert not panels['mask'].any()
    with pytest.raises(ValueError, match='faces'):
        vis.draw_meshes(img, _sample(verts), _sample(verts).pred_instances)


def test_pose_visualization_hook_draws_meshes(body, body_model_files, tmp_path):
    """The path of ``tools/test.py --show-dir``: MMPose's hook drives our visualizer."""
    from types import SimpleNamespace

    from mmpose.engine.hooks import PoseVisualizationHook
    verts, _ = body
    vis = MeshVisualizer.get_instance(f'v{uuid.uuid4().hex}',  # as the Runner builds it
                                      smpl_model_path=body_model_files['model_path'])
    hook = PoseVisualizationHook(enable=True, out_dir='vis')
    assert hook._visualizer is vis
    img_path = str(tmp_path / 'frame.png')
    cv2.imwrite(img_path, np.full((H, W, 3), 60, np.uint8))
    sample = _sample(verts)
    del sample.pred_instances.input_center, sample.pred_instances.input_scale
    sample.set_metainfo(dict(img_path=img_path, input_center=np.array([110., 120.]),
                             input_scale=np.array([200., 200.])))
    runner = SimpleNamespace(work_dir=str(tmp_path), timestamp='t',
                             test_evaluator=SimpleNamespace(dataset_meta=smpl24_metainfo()))
    hook.after_test_iter(runner, 0, {}, [sample])
    out = cv2.imread(str(tmp_path / 't' / 'vis' / 'frame_0.png'))
    assert out.shape == (H, 3 * W, 3)
    assert (out[:, W:2 * W] != 60).any(-1).sum() > 500
