"""ONNX export -> ONNX Runtime parity, the ORT backend behind inference_mesh, and tools/export_onnx.py."""
import os.path as osp
import sys

import numpy as np
import pytest
import torch
from mesh_model_setup import mesh_config, save_random_checkpoint, synthetic_person_image
from mmengine.dataset import pseudo_collate

from pmnet_plugin.apis import (MeshExportModule, OnnxMeshSession, compare_outputs, crop_data,
                               export_onnx, inference_mesh, init_mesh_model, init_onnx_model)

pytestmark = pytest.mark.slow  # trains or runs tools end to end (make test-fast leaves it out)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
BOXES = np.array([[40, 30, 120, 190, 0.9], [10, 10, 60, 90, 0.5], [70, 20, 150, 120, 0.4]])


@pytest.fixture(scope='module')
def setup(body_model_files, tmp_path_factory):
    root = tmp_path_factory.mktemp('onnx')
    cfg = mesh_config(body_model_files)
    torch.manual_seed(0)
    model = init_mesh_model(cfg)
    img = synthetic_person_image(body_model_files)
    crops = torch.stack([torch.as_tensor(d['inputs']) for d in crop_data(model, img, BOXES)]).float()
    onnx_file = str(root / 'pmnet_smpl_dyn.onnx')
    meta = export_onnx(model, onnx_file, crops[:2], with_smpl=True, dynamic_batch=True)
    return dict(root=root, cfg=cfg, model=model, img=img, crops=crops, onnx=onnx_file, meta=meta)


def _torch_outputs(model, crops, with_smpl=True):
    with torch.no_grad():
        return {k: v.float().numpy() for k, v in
                MeshExportModule(model, with_smpl=with_smpl).eval().outputs(crops).items()}


def test_export_module_equals_the_estimators_predict(setup):
    """The exported computation (preprocessing included) is what test_step computes."""
    model, crops = setup['model'], setup['crops']
    data = pseudo_collate(crop_data(model, setup['img'], BOXES))
    with torch.no_grad():
        samples = model.test_step(data)
    ours = _torch_outputs(model, crops)
    for i, s in enumerate(samples):
        p = s.pred_instances
        for key in ('smpl_pose', 'keypoints_3d', 'vertices', 'rarity', 'proto_id', 'proto_nearest_id'):
            np.testing.assert_allclose(ours[key][i:i + 1], p.get(key), rtol=1e-5, atol=1e-5, err_msg=key)


def test_dynamic_batch_parity_with_smpl(setup):
    meta = setup['meta']
    assert meta['input_shape'][0] == -1 and meta['with_smpl'] and len(meta['faces']) > 0
    assert {'vertices', 'keypoints_3d', 'rarity', 'rarity_percentile', 'proto_id',
            'proto_nearest_id', 'proto_nearest_dist'} <= set(meta['output_names'])
    session = OnnxMeshSession(setup['onnx'])
    got = session.run(setup['crops'].numpy())  # 3 crops through a graph exported with 2
    report = compare_outputs(_torch_outputs(setup['model'], setup['crops']), got, 1e-4)
    assert report['vertices']['kind'] == 'metres' and report['vertices']['max_abs_diff'] < 1e-4
    assert report['keypoints_3d']['max_abs_diff'] < 1e-4
    assert report['proto_id'] == dict(max_abs_diff=0, kind='ids', ok=True)
    assert report['proto_nearest_id']['ok']
    assert all(r['ok'] for r in report.values() if r['ok'] is not None)


def test_fixed_batch_chunks_and_no_smpl(setup):
    model, crops, root = setup['model'], setup['crops'], setup['root']
    path = str(root / 'fixed2_nosmpl.onnx')
    meta = export_onnx(model, path, crops[:2], with_smpl=False, dynamic_batch=False)
    assert meta['input_shape'][0] == 2 and 'vertices' not in meta['output_names']
    session = OnnxMeshSession(path)
    got = session.run(crops.numpy())  # 3 crops: one full chunk and one padded
    ref = _torch_outputs(model, crops, with_smpl=False)
    assert set(got) == set(ref) and got['smpl_pose'].shape == (3, 72)
    np.testing.assert_allclose(got['smpl_pose'], ref['smpl_pose'], atol=1e-4)
    np.testing.assert_array_equal(got['proto_id'], ref['proto_id'])
    with pytest.raises(ValueError, match='--with-smpl'):
        init_onnx_model(setup['cfg'], path)


def test_compare_outputs_flags_differences():
    ref = dict(vertices=np.zeros((1, 5, 3)), proto_id=np.array([3]), rarity_percentile=np.array([np.nan]))
    bad = dict(vertices=np.full((1, 5, 3), 2e-4), proto_id=np.array([4]), rarity_percentile=np.array([np.nan]))
    report = compare_outputs(ref, bad, 1e-4)
    assert report['vertices']['ok'] is False and report['proto_id']['max_abs_diff'] == 1
    assert report['rarity_percentile']['max_abs_diff'] == 0.0  # NaN on both sides agrees


def test_onnxruntime_backend_in_inference_mesh(setup):
    ort_model = init_onnx_model(setup['cfg'], setup['onnx'])
    ours = inference_mesh(ort_model, setup['img'], BOXES, batch_size=2)
    theirs = inference_mesh(setup['model'], setup['img'], BOXES, batch_size=2)
    assert len(ours) == len(theirs) == 3
    for a, b in zip(ours, theirs):
        pa, pb = a.pred_instances, b.pred_instances
        assert set(pa.keys()) == set(pb.keys())
        for key in ('keypoints', 'keypoints_3d', 'vertices', 'bboxes', 'input_center', 'rarity'):
            np.testing.assert_allclose(pa.get(key), pb.get(key), rtol=1e-4, atol=1e-3, err_msg=key)
        np.testing.assert_array_equal(pa.proto_id, pb.proto_id)
    assert ort_model.faces.shape[1] == 3 and ort_model.dataset_meta['num_keypoints'] == 24


def test_export_tool_check_passes_on_rendered_crops(setup, capsys):
    """tools/export_onnx.py end to end: checkpoint -> ONNX with SMPL -> parity check on renders."""
    sys.path.insert(0, osp.join(REPO, 'tools'))
    import export_onnx as tool
    root = setup['root']
    cfg_path, ckpt = str(root / 'pmnet.py'), str(root / 'pmnet.pth')
    cfg = setup['cfg'].copy()
    cfg.test_dataloader.dataset.data_root = str(root / 'no_test_data')  # so the check renders its crops
    cfg.dump(cfg_path)
    save_random_checkpoint(setup['model'], ckpt)
    out = str(root / 'tool.onnx')
    assert tool.main([cfg_path, ckpt, '--out', out, '--with-smpl', '--dynamic-batch',
                      '--num-check', '3']) == 0
    text = capsys.readouterr().out
    assert 'renders of the head\'s body model' in text and 'parity check: PASS' in text
    assert 'vertices' in text and 'proto_id' in text
    assert OnnxMeshSession(out).meta['with_smpl']


def test_export_tool_fixed_batch_on_images(setup, capsys):
    """--images (a folder) and a fixed batch of 2 checked on 3 crops (one padded chunk)."""
    import cv2
    sys.path.insert(0, osp.join(REPO, 'tools'))
    import export_onnx as tool
    root = setup['root']
    folder = root / 'imgs'
    folder.mkdir()
    for i in range(3):
        cv2.imwrite(str(folder / f'p{i}.png'), np.ascontiguousarray(setup['img'][:, ::(1 if i % 2 else -1)]))
    cfg_path = str(root / 'pmnet_images.py')
    setup['cfg'].dump(cfg_path)
    out = str(root / 'fixed.onnx')
    assert tool.main([cfg_path, '--out', out, '--with-smpl', '--batch-size', '2', '--images', str(folder)]) == 0
    text = capsys.readouterr().out
    assert '3 crops' in text and 'from 3 image(s) from --images' in text and 'parity check: PASS' in text
    assert OnnxMeshSession(out).fixed_batch == 2
    with pytest.raises(FileNotFoundError, match='--images'):
        tool.main([cfg_path, '--out', out, '--images', str(root / 'missing')])
