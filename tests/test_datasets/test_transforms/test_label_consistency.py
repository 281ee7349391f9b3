"""Flip/rotate an image of a posed body together with its labels; the labels must still describe it.

A posed body is splatted into an image with a weak-perspective camera (docs/design.md). After the
SMPL-aware flip and crop rotation we check that (1) the transformed 3D labels equal the body-model joints
of the transformed SMPL parameters, (2) re-projecting those joints with a fitted weak-perspective camera
reproduces the transformed 2D labels, (3) the 2D labels land on the transformed silhouette and (4) the
re-projected mesh overlaps the transformed silhouette.
"""
import cv2
import numpy as np
import pytest
import torch
from mmengine.dataset import Compose
from mmpose.datasets.transforms import (GenerateTarget, GetBBoxCenterScale, PackPoseInputs,
                                        TopdownAffine)

from pmnet_plugin.codecs import SMPLLabelCodec
from pmnet_plugin.datasets.transforms import SMPLRandomBBoxTransform, SMPLRandomFlip
from pmnet_plugin.models.body_models.constants import SMPL_FLIP_INDICES

SIZE = 256


def _splat(points_px: np.ndarray, size: int) -> np.ndarray:
    img = np.zeros((size, size), np.uint8)
    for x, y in np.round(points_px).astype(int):
        cv2.circle(img, (int(x), int(y)), 3, 255, -1)
    return img


def _forward(body, pose: np.ndarray, betas: np.ndarray):
    with torch.no_grad():
        out = body(betas=torch.from_numpy(betas).float(),
                   body_pose=torch.from_numpy(pose[:, 3:]).float(),
                   global_orient=torch.from_numpy(pose[:, :3]).float())
    return out['joints'][0].numpy(), out['vertices'][0].numpy()


def _fit_weak_perspective(points3d: np.ndarray, labels: np.ndarray):
    """Least-squares (s, a, b) with labels = s * X[:, :2] + (a, b); returns params and residuals."""
    n = len(points3d)
    A = np.zeros((2 * n, 3))
    A[:n, 0], A[:n, 1] = points3d[:, 0], 1.
    A[n:, 0], A[n:, 2] = points3d[:, 1], 1.
    rhs = np.concatenate([labels[:, 0], labels[:, 1]])
    params, *_ = np.linalg.lstsq(A, rhs, rcond=None)
    return params, np.abs(A @ params - rhs).reshape(2, n).T


@pytest.fixture(scope='module')
def body(body_model_files):
    from pmnet_plugin.models.body_models.smpl import SMPLBodyModel
    return SMPLBodyModel(body_model_files['model_path'])


def _scene(body):
    pose = np.zeros((1, 72), np.float32)
    pose[0, :3] = [np.pi, 0., 0.]  # upright, facing the camera
    pose[0, 16 * 3 + 2] = -1.0     # left shoulder: arm raised (asymmetric pose)
    pose[0, 5 * 3] = 1.2           # right knee bent
    pose[0, 1 * 3:1 * 3 + 3] = [-.6, 0., .3]  # left hip
    betas = np.zeros((1, 10), np.float32)
    joints, verts = _forward(body, pose, betas)
    s, t = 1.5 / np.ptp(verts[:, 1]), -verts[:, :2].mean(0)
    to_px = lambda X: (s * (X[:, :2] + t) + 1.) * SIZE / 2.  # noqa: E731
    img = np.repeat(_splat(to_px(verts), SIZE)[..., None], 3, axis=2)
    return dict(img=img, img_shape=(SIZE, SIZE), bbox=np.array([[0, 0, SIZE, SIZE]], np.float32),
                bbox_score=np.ones(1, np.float32), keypoints=to_px(joints)[None].astype(np.float32),
                keypoints_visible=np.ones((1, 24), np.float32),
                keypoints_3d=(joints - joints[:1])[None].astype(np.float32),
                keypoints_3d_visible=np.ones((1, 24), np.float32), smpl_pose=pose, smpl_betas=betas,
                has_smpl=np.ones(1, np.float32), flip_indices=SMPL_FLIP_INDICES)


@pytest.mark.parametrize('flip,angle', [(True, 0.), (False, 40.), (True, -35.)])
def test_flip_rotate_label_consistency(body, flip, angle):
    assert SMPLLabelCodec.__name__  # registered in KEYPOINT_CODECS by the import
    rotate = SMPLRandomBBoxTransform(rotate_factor=60.)
    # a fixed crop rotation of `angle` degrees (no shift, no scaling)
    rotate._get_transform_params = lambda n: (np.zeros((n, 2)), np.ones((n, 1)), np.full(n, angle))
    pipeline = Compose([
        GetBBoxCenterScale(padding=1.0),
        SMPLRandomFlip(prob=1. if flip else 0.),
        rotate,
        TopdownAffine(input_size=(224, 224)),
        GenerateTarget(encoder=dict(type='SMPLLabelCodec')),
        PackPoseInputs(meta_keys=('flip', 'input_center')),
    ])
    packed = pipeline(_scene(body))
    sample, img = packed['data_samples'], packed['inputs'][0].numpy()
    labels = sample.gt_instance_labels
    assert sample.metainfo['flip'] == flip
    assert (abs(sample.metainfo.get('input_center')[0] - SIZE / 2) < SIZE / 2)
    pose = labels.smpl_pose.numpy()
    joints, verts = _forward(body, pose, labels.smpl_betas.numpy())

    # (1) 3D labels == joints of the transformed parameters (root-relative)
    np.testing.assert_allclose(labels.keypoints_3d[0].numpy(), joints - joints[:1], atol=5e-3)
    # (2) weak-perspective re-projection of the transformed parameters matches the 2D labels
    keypoints_norm = labels.keypoint_labels[0].numpy()
    params, residual = _fit_weak_perspective(joints, keypoints_norm)
    assert params[0] > 0 and residual.max() < 0.01, residual.max()
    # (3) the 2D labels land on the transformed body silhouette
    keypoints_px = np.round((keypoints_norm + 1.) * 112.).astype(int)
    assert (img[keypoints_px[:, 1], keypoints_px[:, 0]] > 0).all()
    # (4) the re-projected mesh overlaps the transformed silhouette
    proj = (params[0] * verts[:, :2] + params[1:] + 1.) * 112.
    rendered, observed = _splat(proj, 224) > 0, img > 127
    iou = (rendered & observed).sum() / (rendered | observed).sum()
    assert iou > 0.8, iou
