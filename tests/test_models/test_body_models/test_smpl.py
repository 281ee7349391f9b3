"""Tests of SMPLBodyModel on the procedural SMPL-format body."""
import numpy as np
import pytest
import smplx
import torch

from pmnet_plugin.models.body_models import SMPLBodyModel, load_smpl_model_file
from pmnet_plugin.models.body_models.constants import (COCO17_JOINT_NAMES, H36M_TO_LSP14,
                                                       SMPL_COCO_FACE_VERTEX_IDS, SMPL_JOINT_NAMES)
from pmnet_plugin.utils.rotation import axis_angle_to_matrix


@pytest.fixture(scope='module')
def body(body_model_files):
    return SMPLBodyModel(body_model_files['model_path'],
                         joint_regressor_h36m=body_model_files['h36m_regressor'])


def _random_params(batch, seed=0, scale=0.4):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(batch, 10, generator=g), torch.randn(batch, 23, 3, generator=g) * scale,
            torch.randn(batch, 3, generator=g))


def test_build_from_registry(body_model_files):
    from mmpose.registry import MODELS

    import pmnet_plugin  # noqa: F401  (registers the component)
    model = MODELS.build(dict(type='SMPLBodyModel', model_path=body_model_files['model_path_npz']))
    assert isinstance(model, SMPLBodyModel)
    assert model.num_vertices == 6890 and model.is_synthetic
    assert model.faces.shape == (13776, 3) and model.faces.dtype == np.int64
    assert 'joints_h36m' not in model(*_random_params(1))


def test_forward_shapes_and_finite(body):
    betas, pose, orient = _random_params(4)
    out = body(betas, pose, orient, transl=torch.ones(4, 3))
    expected = dict(vertices=(4, 6890, 3), joints=(4, 24, 3), keypoints_coco=(4, 17, 3), joints_h36m=(4, 17, 3),
                    vertex_keypoints=(4, 21, 3))
    assert {k: tuple(v.shape) for k, v in out.items()} == expected
    assert all(torch.isfinite(v).all() for v in out.values())


def test_rotmats_and_axis_angle_inputs_agree(body):
    betas, pose, orient = _random_params(3, seed=1)
    a = body(betas, pose.reshape(3, 69), orient)
    b = body(betas, axis_angle_to_matrix(pose), axis_angle_to_matrix(orient)[:, None])
    c = body(betas.double(), pose, axis_angle_to_matrix(orient))  # (B, 3, 3) root, float64 input
    torch.testing.assert_close(a['vertices'], b['vertices'])
    torch.testing.assert_close(a['vertices'], c['vertices'])


def test_matches_smplx_reference_forward_and_gradient(body, body_model_files):
    """Our faster LBS must equal smplx.SMPL loading the same .pkl itself (file format compatibility)."""
    ref_model = smplx.SMPL(body_model_files['model_path'])  # smplx unpickles our file unchanged
    betas, pose, orient = _random_params(5, seed=2, scale=0.6)
    transl = torch.randn(5, 3)
    pose.requires_grad_(True)
    ref = ref_model(betas=betas, body_pose=pose.reshape(5, 69), global_orient=orient, transl=transl)
    out = body(betas, pose, orient, transl)
    torch.testing.assert_close(out['vertices'], ref.vertices, atol=1e-5, rtol=0)
    torch.testing.assert_close(out['joints'], ref.joints[:, :24], atol=1e-5, rtol=0)
    g_ours = torch.autograd.grad(out['vertices'].square().sum(), pose)[0]
    g_ref = torch.autograd.grad(ref.vertices.square().sum(), pose)[0]
    torch.testing.assert_close(g_ours, g_ref, atol=1e-3, rtol=1e-4)


def test_rest_joints_equal_regressor_times_vertices(body, body_model_files):
    arrays = load_smpl_model_file(body_model_files['model_path'])
    out = body(torch.zeros(1, 10), torch.zeros(1, 69), torch.zeros(1, 3))
    np.testing.assert_allclose(out['vertices'][0].numpy(), arrays['v_template'], atol=1e-6)
    expected = arrays['J_regressor'] @ out['vertices'][0].double().numpy()
    np.testing.assert_allclose(out['joints'][0].numpy(), expected, atol=1e-5)
    np.testing.assert_allclose(out['joints'][0].numpy(), arrays['J'], atol=1e-5)


def test_h36m_lsp_and_coco_joints_hand_computed(body, body_model_files):
    betas, pose, orient = _random_params(2, seed=3)
    out = body(betas, pose, orient)
    verts = out['vertices'].double().numpy()
    reg = np.load(body_model_files['h36m_regressor'])
    np.testing.assert_allclose(out['joints_h36m'].numpy(), np.einsum('jv,bvc->bjc', reg, verts), atol=1e-5)
    lsp = body.joints_lsp14(out['joints_h36m'])
    torch.testing.assert_close(lsp, out['joints_h36m'][:, H36M_TO_LSP14])
    # LSP order starts with the right ankle = SPIN's H36M index 6.
    torch.testing.assert_close(lsp[:, 0], out['joints_h36m'][:, 6])

    face_ids = load_smpl_model_file(body_model_files['model_path'])['coco_face_vertex_ids']
    coco, joints = out['keypoints_coco'], out['joints']
    torch.testing.assert_close(coco[:, :5], out['vertices'][:, face_ids])
    for coco_idx, name in enumerate(COCO17_JOINT_NAMES[5:], start=5):
        torch.testing.assert_close(coco[:, coco_idx], joints[:, SMPL_JOINT_NAMES.index(name)], msg=name)


def test_face_vertex_ids_override_and_default(body_model_files):
    custom = SMPLBodyModel(body_model_files['model_path'], face_vertex_ids=[0, 1, 2, 3, 4])
    out = custom(*_random_params(1))
    torch.testing.assert_close(out['keypoints_coco'][:, :5], out['vertices'][:, :5])
    # A file without the key falls back to the official SMPL vertex ids.
    arrays = load_smpl_model_file(body_model_files['model_path_npz'])
    assert 'coco_face_vertex_ids' in arrays
    with pytest.raises(ValueError, match='face_vertex_ids'):
        SMPLBodyModel(body_model_files['model_path'], face_vertex_ids=[0, 1, 2])
    assert SMPL_COCO_FACE_VERTEX_IDS == [332, 2800, 6260, 583, 4071]


def test_official_face_ids_used_without_file_key(tmp_path, body_model_files):
    arrays = load_smpl_model_file(body_model_files['model_path_npz'])
    del arrays['coco_face_vertex_ids']
    path = str(tmp_path / 'no_face_ids.npz')
    np.savez(path, **arrays)
    model = SMPLBodyModel(path)
    assert model.face_vertex_ids.tolist() == SMPL_COCO_FACE_VERTEX_IDS


def test_shape_blend_changes_height(body):
    heights = []
    for beta0 in (-2.0, 0.0, 2.0):
        betas = torch.zeros(1, 10)
        betas[0, 0] = beta0
        v = body(betas, torch.zeros(1, 69), torch.zeros(1, 3))['vertices'][0]
        heights.append(float(v[:, 1].max() - v[:, 1].min()))
    assert heights[0] < heights[1] - 0.1 and heights[2] > heights[1] + 0.1
    assert 1.6 < heights[1] < 1.85


def test_posing_moves_only_the_child_chain(body):
    pose = torch.zeros(1, 23, 3)
    pose[0, SMPL_JOINT_NAMES.index('left_elbow') - 1] = torch.tensor([0.0, 1.5, 0.0])
    rest = body(torch.zeros(1, 10), torch.zeros(1, 69), torch.zeros(1, 3))
    bent = body(torch.zeros(1, 10), pose, torch.zeros(1, 3))
    moved = (bent['joints'] - rest['joints']).norm(dim=-1)[0]
    for name in ('left_wrist', 'left_hand'):
        assert moved[SMPL_JOINT_NAMES.index(name)] > 0.1
    for name in ('right_wrist', 'left_elbow', 'head', 'left_ankle'):
        assert moved[SMPL_JOINT_NAMES.index(name)] < 1e-6
    vmoved = (bent['vertices'] - rest['vertices']).norm(dim=-1)[0]
    assert (vmoved > 0.1).sum() > 100 and (vmoved < 1e-6).sum() > 4000


def test_input_errors(body):
    betas, pose, orient = _random_params(2)
    with pytest.raises(ValueError, match='body_pose'):
        body(betas, pose[:, :22], orient)
    with pytest.raises(ValueError, match='betas'):
        body(betas[:, :9], pose, orient)
    with pytest.raises(ValueError, match='batch sizes'):
        body(betas[:1], pose, orient)
    with pytest.raises(TypeError, match='floating'):
        body(betas, pose.long(), orient)
    bad = betas.clone()
    bad[0, 0] = float('nan')
    with pytest.raises(ValueError, match='betas contains NaN'):
        body(bad, pose, orient)


def test_model_arrays_stay_out_of_checkpoints(body):
    assert len(body.state_dict()) == 0
    assert len(list(body.parameters())) == 0
    double = SMPLBodyModel(body.model_path).double()
    out = double(*[t.double() for t in _random_params(1)])
    assert out['vertices'].dtype == torch.float64


@pytest.fixture(scope='module')
def posed_body(body_model_files, tmp_path_factory):
    """The procedural body with random pose blend shapes and both joint regressors."""
    import os.path as osp
    arrays = dict(load_smpl_model_file(body_model_files['model_path']))
    rng = np.random.default_rng(0)
    arrays['posedirs'] = rng.normal(0, 1e-3, np.shape(arrays['posedirs'])).astype(np.float64)
    path = str(tmp_path_factory.mktemp('posed') / 'SMPL_NEUTRAL.npz')
    np.savez(path, **arrays)
    extra = osp.join(body_model_files['dir'], 'J_regressor_extra.npy')
    return SMPLBodyModel(path, joint_regressor_h36m=body_model_files['h36m_regressor'],
                         joint_regressor_extra=extra if osp.isfile(extra) else None)


@pytest.mark.parametrize('with_transl', [False, True])
def test_points_without_the_mesh_equal_those_of_the_mesh(posed_body, with_transl):
    assert posed_body.use_posedirs and len(posed_body.sub_vertex_ids) < posed_body.num_vertices
    betas, pose, orient = _random_params(3, seed=4, scale=0.7)
    transl = torch.randn(3, 3) if with_transl else None
    full = posed_body(betas, pose, orient, transl)
    points = posed_body(betas, pose, orient, transl, vertices=False)
    assert 'vertices' not in points and set(points) == set(full) - {'vertices'}
    for key, value in points.items():
        torch.testing.assert_close(value, full[key], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(full['vertex_keypoints'], full['vertices'][:, posed_body.keypoint_vertex_ids])
    chain = posed_body(betas, pose, orient, transl, vertices=False, regressed=False)
    assert set(chain) == {'joints'}
    torch.testing.assert_close(chain['joints'], full['joints'])
    # gradients reach the pose through the subset as through the mesh
    p1, p2 = pose.clone().requires_grad_(True), pose.clone().requires_grad_(True)
    posed_body(betas, p1, orient, vertices=False)['joints_h36m'].sum().backward()
    posed_body(betas, p2, orient)['joints_h36m'].sum().backward()
    torch.testing.assert_close(p1.grad, p2.grad, atol=1e-5, rtol=1e-4)


def test_joint_set_regressor_knows_when_it_needs_mesh_points(body):
    assert not body.joint_set_regressor('smpl').needs_mesh_points
    assert body.joint_set_regressor('coco').needs_mesh_points  # face points are mesh vertices
