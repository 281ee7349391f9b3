"""Every labelled joint of a real-layout file reaches HMRHead's keypoint losses with its own value.

The files (``tests/real_layouts.py``) go through the dataset and MMPose's test pipeline; the expected loss
is computed by hand from the file's values and from the predicted mesh, each joint taken from its own
regressor (SMPL joints, ``J_regressor_extra.npy`` rows).
"""
import numpy as np
import pytest
import torch
from real_layouts import write_h36m, write_images, write_mpi_inf_3dhp, write_spin_npz

from pmnet_plugin.datasets import SMPLImageDataset
from pmnet_plugin.datasets.keypoint_conventions import MMHUMAN3D_H36M_TO_SPIN
from pmnet_plugin.models.body_models.joint_sets import joint_source
from pmnet_plugin.models.heads import HMRHead

PIPELINE = [
    dict(type='LoadImage'),
    dict(type='GetBBoxCenterScale', padding=1.2),
    dict(type='TopdownAffine', input_size=(224, 224)),
    dict(type='GenerateTarget', encoder=dict(type='SMPLLabelCodec', input_size=(224, 224))),
    dict(type='PackPoseInputs', meta_keys=('id', 'img_path', 'input_size', 'input_center',
                                           'input_scale', 'joint_set')),
]
CASES = {
    'h36m': (write_h36m, dict(rename_keypoints=MMHUMAN3D_H36M_TO_SPIN), 17),
    'mpi_inf_3dhp_28': (write_mpi_inf_3dhp, {}, 21),
    'spin_npz': (write_spin_npz, {}, 17),
}


def _pred_joint(name, body, extra):
    kind, idx = joint_source(name)
    if kind == 'smpl':
        return body['joints'][:, idx]
    assert kind == 'extra', name
    return np.einsum('v,bvc->bc', extra[idx], body['vertices'])


@pytest.mark.parametrize('case', sorted(CASES))
def test_every_labelled_joint_reaches_the_loss(tmp_path, body_model_files, case):
    writer, kwargs, num_supervised = CASES[case]
    truth = writer(str(tmp_path))
    write_images(str(tmp_path), len(truth['keypoints']))
    ds = SMPLImageDataset(ann_file=truth['path'], joint_set='human_data', data_root=str(tmp_path),
                          pipeline=PIPELINE, test_mode=True, **kwargs)
    samples = [ds[i]['data_samples'] for i in range(len(ds))]
    head = HMRHead(in_channels=16, hidden_dims=(32, ), mean_params=body_model_files['mean_params'],
                   body_model=dict(type='SMPLBodyModel', model_path=body_model_files['model_path'],
                                   joint_regressor_extra=body_model_files['extra_regressor'])).eval()
    feats = (torch.randn(len(samples), 16, generator=torch.Generator().manual_seed(0)), )
    with torch.no_grad():
        losses = head.loss(feats, samples)
        preds = head.forward(feats)
        body = head.run_body_model(preds['smpl_pose_rotmat'], preds['smpl_betas'])
    body = {k: v.double().numpy() for k, v in body.items() if torch.is_tensor(v)}
    cam = preds['cam'].double().numpy()
    extra = np.load(body_model_files['extra_regressor'])
    rename = kwargs.get('rename_keypoints', {})
    names = [rename.get(n, n) for n in truth['names3d']]
    supervised = [j for j, n in enumerate(names) if joint_source(n) is not None]
    assert len(supervised) == num_supervised
    root_p = _pred_joint('pelvis_extra', body, extra)
    root_g = truth['keypoints_3d'][:, names.index('pelvis_extra')]
    err3d = err2d = 0.
    for j in supervised:
        p = _pred_joint(names[j], body, extra)
        err3d += (((p - root_p) - (truth['keypoints_3d'][:, j] - root_g))**2).sum()
        proj = cam[:, :1] * (p[:, :2] + cam[:, 1:])
        for b, sample in enumerate(samples):
            centre, side = sample.metainfo['input_center'], sample.metainfo['input_scale'][0]
            label = ((truth['keypoints'][b, j] - centre) / side * 224 + 112) / 112 - 1
            err2d += ((proj[b] - label)**2).sum()
    count = len(supervised) * len(samples)
    np.testing.assert_allclose(losses['loss_keypoints_3d'].item(), 5 * err3d / (3 * count), rtol=1e-4)
    np.testing.assert_allclose(losses['loss_keypoint_labels'].item(), 5 * err2d / (2 * count), rtol=1e-4)


def test_missing_extra_regressor_is_named_once(tmp_path, body_model_files, mesh_samples):
    """Without J_regressor_extra the *_extra joints lose their loss, and a warning names the file."""
    truth = write_h36m(str(tmp_path))
    write_images(str(tmp_path), len(truth['keypoints']))
    ds = SMPLImageDataset(ann_file=truth['path'], joint_set='human_data', data_root=str(tmp_path),
                          pipeline=PIPELINE, test_mode=True)
    samples = [ds[i]['data_samples'] for i in range(2)]
    missing = str(tmp_path / 'J_regressor_extra.npy')
    head = HMRHead(in_channels=16, hidden_dims=(32, ), mean_params=body_model_files['mean_params'],
                   body_model=dict(type='SMPLBodyModel', model_path=body_model_files['model_path'],
                                   joint_regressor_extra=missing)).eval()
    feats = (torch.randn(2, 16), )
    with pytest.warns(UserWarning, match=r'J_regressor_extra.npy.*does not exist.*spin/data.tar.gz'):
        head.loss(feats, samples)
    available = head.body_model.joint_set_regressor('human_data').available
    assert available.sum() == 80 - 9 - 1  # and head_h36m: no H36M regressor given either
    with pytest.raises(ValueError, match='joint sets'):  # one set per batch
        head.loss((torch.randn(3, 16), ), samples + mesh_samples(1))
