"""The ONNX parity check of tools/export_onnx.py compares every output, and zero compared outputs fail.

An HMR graph exported without the SMPL layer has only pose, shape and camera outputs: the check used to
print ``PASS (0 checked outputs)`` for it, also when run against another model's weights. A checkpoint that
does not fit exits 2, an ``--out`` that cannot be written exits 3 before the export.
"""
import copy
import os.path as osp
import sys

import numpy as np
import pytest
import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tools'))
sys.path.insert(0, osp.join(ROOT, 'tests', 'test_apis'))
import export_onnx as tool  # noqa: E402  (tools/export_onnx.py)
from mesh_model_setup import hmr_config  # noqa: E402

from pmnet_plugin.apis.onnx_backend import compare_outputs  # noqa: E402

pytestmark = pytest.mark.slow  # trains or runs tools end to end (make test-fast leaves it out)


def test_pose_shape_and_camera_outputs_are_checked():
    ref = dict(smpl_pose=np.zeros((2, 72)), smpl_betas=np.zeros((2, 10)), cam=np.array([[0.9, 0, 0]] * 2))
    same = compare_outputs(ref, {k: v + 1e-6 for k, v in ref.items()})
    assert all(r['ok'] for r in same.values())
    off = dict(ref, smpl_pose=ref['smpl_pose'] + 5.43)
    report = compare_outputs(ref, off)
    assert report['smpl_pose']['ok'] is False and report['smpl_pose']['max_abs_diff'] == pytest.approx(5.43)
    assert report['smpl_betas']['ok'] and report['cam']['ok']
    with pytest.raises(KeyError, match=r"\['vertices'\] of the candidate have no reference"):
        compare_outputs(ref, dict(ref, vertices=np.zeros((2, 4, 3))))


def test_no_compared_output_is_a_failure(capsys):
    assert tool.print_verdict({}, {}, 1e-4, 1e-3) is False
    assert 'parity check: FAIL (0 checked outputs' in capsys.readouterr().out


def test_hmr_graph_without_smpl_fails_against_other_weights(body_model_files, tmp_path, capsys):
    from pmnet_plugin.apis import export_onnx, init_mesh_model
    cfg = hmr_config(body_model_files)
    torch.manual_seed(0)
    exported = init_mesh_model(cfg)
    w, h = exported.head.input_size
    crops = torch.rand(2, 3, h, w) * 255
    path = str(tmp_path / 'hmr.onnx')
    export_onnx(exported, path, crops, with_smpl=False, dynamic_batch=True)

    assert tool.run_check(exported, path, crops, 1e-4) is True  # the graph of this model: every output agrees
    text = capsys.readouterr().out
    assert 'parity check: PASS (3 checked outputs' in text
    other = copy.deepcopy(exported)  # another model: the head's weights moved
    with torch.no_grad():
        for param in other.head.parameters():
            param.add_(0.1 * torch.randn_like(param))
    assert tool.run_check(other, path, crops, 1e-4) is False
    text = capsys.readouterr().out
    assert 'parity check: FAIL (3 checked outputs' in text
    assert [line.split()[-1] for line in text.splitlines() if line.startswith('smpl_pose')] == ['FAIL']


def test_export_tool_exit_statuses(body_model_files, tmp_path, error_line):
    from mesh_model_setup import mesh_config, save_random_checkpoint

    from pmnet_plugin.apis import init_mesh_model
    from pmnet_plugin.utils.cli import run_with_file_errors
    pmnet_cfg = str(tmp_path / 'pmnet.py')
    mesh_config(body_model_files).dump(pmnet_cfg)
    hmr_ckpt = save_random_checkpoint(init_mesh_model(hmr_config(body_model_files)), str(tmp_path / 'hmr.pth'))
    out = tmp_path / 'model.onnx'
    assert run_with_file_errors(tool.main, [pmnet_cfg, hmr_ckpt, '--out', str(out)]) == 2
    assert f'error: checkpoint {hmr_ckpt} does not fit the model' in error_line()
    blocker = tmp_path / 'a_file'
    blocker.write_text('not a folder')
    assert run_with_file_errors(tool.main, [pmnet_cfg, '--out', str(blocker / 'model.onnx')]) == 3
    assert f'error: cannot write --out {blocker}/model.onnx: {blocker} is a file, not a folder' in error_line()
    assert not out.exists()
