"""Camera conversions, box clipping and image conversion helpers of pmnet_plugin.apis."""
import numpy as np
import pytest

from pmnet_plugin.apis.inference import (crop_cam_to_full, crop_cam_to_image, ensure_bgr3,
                                         smpl24_metainfo)
from pmnet_plugin.utils.input_checks import clip_bboxes


def _points(n=50, seed=0):
    rng = np.random.RandomState(seed)
    return rng.uniform(-0.5, 0.5, (n, 3)) * np.array([0.6, 1.7, 0.01])


def test_crop_cam_to_image_reproduces_weak_perspective():
    pts = _points()
    cam = np.array([[0.8, 0.1, -0.05]])
    center, scale = np.array([[300., 200.]]), np.array([[150., 150.]])
    focal, princpt, transl = crop_cam_to_image(cam, center, scale, (224, 224), 5000.)
    assert focal.shape == (1,) and princpt.shape == (1, 2) and transl.shape == (1, 3)
    p = pts + transl[0]
    persp = focal[0] * p[:, :2] / p[:, 2:] + princpt[0]
    weak = center[0] + cam[0, 0] * (pts[:, :2] + cam[0, 1:]) * scale[0, 0] / 2
    np.testing.assert_allclose(persp, weak, atol=0.05)
    assert transl[0, 2] == pytest.approx(2 * 5000. / (224 * 0.8))


def test_crop_cam_to_full_projects_to_the_same_pixels():
    pts = _points(seed=1)
    cam = np.array([[0.9, 0.0, 0.1], [1.1, -0.2, 0.0]])
    center = np.array([[100., 380.], [520., 240.]])
    scale = np.array([[180., 180.], [90., 90.]])
    img_shape = (480, 640)
    focal_full, transl = crop_cam_to_full(cam, center, scale, img_shape)
    assert focal_full == pytest.approx(5000. / 224 * 640)
    for i in range(2):
        p = pts + transl[i]
        full = focal_full * p[:, :2] / p[:, 2:] + np.array([320., 240.])
        weak = center[i] + cam[i, 0] * (pts[:, :2] + cam[i, 1:]) * scale[i, 0] / 2
        np.testing.assert_allclose(full, weak, atol=0.1)
    # the smaller box (farther person) is deeper
    assert transl[1, 2] > transl[0, 2]


def test_nonpositive_scale_gives_finite_camera():
    focal, _, transl = crop_cam_to_image(np.array([[0.0, 0, 0], [-1.0, 0, 0]]),
                                         np.zeros((2, 2)), np.ones((2, 2)))
    assert np.isfinite(transl).all() and (transl[:, 2] > 0).all()


def test_clip_bboxes_clips_and_drops_empty():
    boxes = np.array([[-10, -5, 50, 60, 0.9],      # partly outside: clipped
                      [200, 10, 300, 90, 0.8],     # fully right of the image: dropped
                      [10, 10, 10.5, 40, 0.7],     # thinner than 1 px: dropped
                      [20, 30, 90, 140, 0.6]], np.float32)
    out = clip_bboxes(boxes, (100, 120))
    np.testing.assert_allclose(out, [[0, 0, 50, 60, 0.9], [20, 30, 90, 100, 0.6]])
    assert clip_bboxes(np.zeros((0, 5)), (10, 10)).shape[0] == 0


@pytest.mark.parametrize('shape', [(8, 9), (8, 9, 1), (8, 9, 4), (8, 9, 3)])
def test_ensure_bgr3(shape):
    img = np.random.RandomState(0).randint(0, 255, shape).astype(np.uint8)
    out = ensure_bgr3(img)
    assert out.shape == (8, 9, 3) and out.dtype == np.uint8
    if len(shape) == 3 and shape[2] >= 3:
        np.testing.assert_array_equal(out, img[..., :3])
    else:
        np.testing.assert_array_equal(out[..., 0], img.reshape(8, 9))
    with pytest.raises(ValueError):
        ensure_bgr3(np.zeros((4, 4, 2), np.uint8))


def test_smpl24_metainfo_skeleton_follows_the_kinematic_tree():
    meta = smpl24_metainfo()
    assert meta['num_keypoints'] == 24
    links = {tuple(sorted(link)) for link in meta['skeleton_links']}
    assert (0, 1) in links and (18, 20) in links and len(links) == 23
    assert list(meta['flip_indices'])[:3] == [0, 2, 1]
