"""Published evaluation protocols: 3DPW with gendered GT meshes, Human3.6M protocol 2 on labelled joints.

Expected values are computed by hand: GT meshes from the gendered body files the generator writes, H36M
joints by multiplying ``J_regressor_h36m.npy`` into the vertices, errors with MMPose's ``keypoint_mpjpe``.
"""
import numpy as np
import pytest
import torch
from mmengine.structures import InstanceData
from mmpose.evaluation.functional import keypoint_mpjpe
from mmpose.registry import METRICS
from mmpose.structures import PoseDataSample
from real_layouts import write_h36m, write_pw3d

from pmnet_plugin.datasets import SMPLImageDataset
from pmnet_plugin.datasets.keypoint_conventions import MMHUMAN3D_H36M_TO_SPIN
from pmnet_plugin.models.body_models import SMPLBodyModel
from pmnet_plugin.models.body_models.constants import H36M_TO_LSP14


def _mesh(path, poses, betas):
    with torch.no_grad():
        out = SMPLBodyModel(path)(torch.as_tensor(betas, dtype=torch.float32),
                                  torch.as_tensor(poses[:, 3:], dtype=torch.float32),
                                  torch.as_tensor(poses[:, :3], dtype=torch.float32))
    return out['vertices'].double().numpy()


def _sample(pred_vertices, meta, **gt):
    sample = PoseDataSample(metainfo=dict(img_path='x.jpg', **meta))
    sample.gt_instances = InstanceData(**{k: np.asarray(v, np.float32)[None] for k, v in gt.items()})
    sample.pred_instances = InstanceData(keypoints_3d=np.zeros((1, 24, 3), np.float32),
                                         vertices=np.asarray(pred_vertices, np.float32)[None])
    return sample.to_dict()


def _lsp14(reg, verts):
    joints = np.einsum('jv,bvc->bjc', reg, verts)
    return (joints - joints[:, :1])[:, H36M_TO_LSP14] * 1000


@pytest.fixture
def pw3d(tmp_path, body_model_files):
    """3DPW-like GT (genders m, f, m, f), the predictions (neutral meshes of perturbed poses)."""
    truth = write_pw3d(str(tmp_path))
    ds = SMPLImageDataset(ann_file=truth['path'], joint_set='human_data', test_mode=True)
    infos = [ds.get_data_info(i) for i in range(len(ds))]
    poses = np.stack([i['smpl_pose'][0] for i in infos]).astype(np.float64)
    betas = np.stack([i['smpl_betas'][0] for i in infos]).astype(np.float64)
    pred_poses = poses + np.random.default_rng(0).normal(0, 0.15, poses.shape)
    pred_verts = _mesh(body_model_files['model_path'], pred_poses, betas)
    samples = [_sample(pred_verts[k], dict(gender=info['gender'], joint_set='human_data'),
                       smpl_pose=info['smpl_pose'][0], smpl_betas=info['smpl_betas'][0], has_smpl=[1.])
               for k, info in enumerate(infos)]
    return dict(samples=samples, poses=poses, betas=betas, pred_verts=pred_verts,
                genders=[i['gender'] for i in infos])


def _metric(body_model_files, **kwargs):
    body = dict(model_path=body_model_files['model_path'],
                joint_regressor_h36m=body_model_files['h36m_regressor'])
    return METRICS.build(dict(type='MeshMetric', body_model=body, **kwargs))


def test_3dpw_gendered_gt_matches_hand_computation(body_model_files, pw3d):
    files = dict(male=body_model_files['model_path_male'], female=body_model_files['model_path_female'])
    metric = _metric(body_model_files, protocol='h36m_lsp14', gendered_body_models=files)
    metric.process({}, pw3d['samples'])
    out = metric.evaluate(len(pw3d['samples']))
    reg = np.load(body_model_files['h36m_regressor'])
    male = _mesh(files['male'], pw3d['poses'], pw3d['betas'])
    female = _mesh(files['female'], pw3d['poses'], pw3d['betas'])
    gt_verts = np.where((np.array(pw3d['genders']) == 'f')[:, None, None], female, male)
    g, p = _lsp14(reg, gt_verts), _lsp14(reg, pw3d['pred_verts'])
    mask = np.ones(g.shape[:2], bool)
    assert out['mesh/gendered_gt'] == 1.0
    assert out['mesh/MPJPE'] == pytest.approx(keypoint_mpjpe(p, g, mask, 'none'), abs=1e-3)
    assert out['mesh/PA-MPJPE'] == pytest.approx(keypoint_mpjpe(p, g, mask, 'procrustes'), abs=1e-3)
    pelvis = lambda v: np.einsum('v,bvc->bc', reg[0], v)[:, None]  # noqa: E731
    pve = np.linalg.norm((pw3d['pred_verts'] - pelvis(pw3d['pred_verts'])) - (gt_verts - pelvis(gt_verts)),
                         axis=-1).mean() * 1000
    assert out['mesh/PVE'] == pytest.approx(pve, abs=1e-3)
    # the gendered bodies differ from the neutral one: the neutral GT gives another number
    neutral = _lsp14(reg, _mesh(body_model_files['model_path'], pw3d['poses'], pw3d['betas']))
    assert abs(keypoint_mpjpe(p, neutral, mask, 'none') - out['mesh/MPJPE']) > 1.0


def test_3dpw_without_gendered_files_warns_and_uses_neutral(tmp_path, body_model_files, pw3d):
    files = dict(male=str(tmp_path / 'SMPL_MALE.pkl'), female=str(tmp_path / 'SMPL_FEMALE.pkl'))
    with pytest.warns(UserWarning, match='NOT comparable with published'):
        metric = _metric(body_model_files, protocol='h36m_lsp14', gendered_body_models=files)
    metric.process({}, pw3d['samples'])
    out = metric.evaluate(len(pw3d['samples']))
    reg = np.load(body_model_files['h36m_regressor'])
    g = _lsp14(reg, _mesh(body_model_files['model_path'], pw3d['poses'], pw3d['betas']))
    p = _lsp14(reg, pw3d['pred_verts'])
    assert out['mesh/gendered_gt'] == 0.0
    assert out['mesh/MPJPE'] == pytest.approx(keypoint_mpjpe(p, g, np.ones(g.shape[:2], bool)), abs=1e-3)


@pytest.mark.parametrize('rename', [MMHUMAN3D_H36M_TO_SPIN, None])
@pytest.mark.parametrize('protocol', ['h36m_joints_lsp14', 'h36m_joints_17'])
def test_h36m_p2_on_labelled_joints(tmp_path, body_model_files, protocol, rename):
    """GT = the file's H36M joints (either naming), prediction = H36M regressor on the predicted mesh."""
    truth = write_h36m(str(tmp_path), n=3)
    ds = SMPLImageDataset(ann_file=truth['path'], joint_set='human_data', test_mode=True,
                          rename_keypoints=rename)
    rng = np.random.default_rng(1)
    poses = np.concatenate([np.tile([[np.pi, 0., 0.]], (3, 1)), rng.normal(0, .3, (3, 69))], 1)
    pred_verts = _mesh(body_model_files['model_path'], poses, np.zeros((3, 10)))
    samples = []
    for k in range(3):
        info = ds.get_data_info(k)
        samples.append(_sample(pred_verts[k], dict(joint_set='human_data'),
                               keypoints_3d=info['keypoints_3d'][0],
                               keypoints_3d_visible=info['keypoints_3d_visible'][0], has_smpl=[0.]))
    metric = _metric(body_model_files, protocol=protocol, metrics=['MPJPE', 'PA-MPJPE'])
    metric.process({}, samples)
    out = metric.evaluate(3)
    reg = np.load(body_model_files['h36m_regressor'])
    rows = H36M_TO_LSP14 if protocol.endswith('lsp14') else list(range(17))
    joints = np.einsum('jv,bvc->bjc', reg, pred_verts)
    p = (joints - joints[:, :1])[:, rows] * 1000
    g = (truth['keypoints_3d'] - truth['keypoints_3d'][:, :1])[:, rows] * 1000  # H36M order = regressor order
    mask = np.ones(g.shape[:2], bool)
    assert out['mesh/MPJPE'] == pytest.approx(keypoint_mpjpe(p, g, mask, 'none'), abs=1e-3)
    assert out['mesh/PA-MPJPE'] == pytest.approx(keypoint_mpjpe(p, g, mask, 'procrustes'), abs=1e-3)
    assert out['mesh/num_skipped'] == 0.0 and 'mesh/gendered_gt' not in out
