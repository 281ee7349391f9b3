"""tools/demo.py output schema with the pose rarity, the "rare pose" label, and --backend onnxruntime."""
import json
import os.path as osp
import sys

import cv2
import numpy as np
import pytest
import torch

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(REPO, 'tests', 'test_apis'))
sys.path.insert(0, osp.join(REPO, 'tools'))
import demo  # noqa: E402
from mesh_model_setup import demo_setup, save_random_checkpoint  # noqa: E402

pytestmark = pytest.mark.slow  # trains or runs tools end to end (make test-fast leaves it out)

BOX = (40, 30, 120, 190)
PERSON_KEYS = {'bboxes', 'bbox_scores', 'smpl_pose', 'smpl_betas', 'cam', 'cam_t_full', 'keypoints',
               'keypoint_scores', 'keypoints_3d', 'rarity', 'rarity_percentile', 'proto_id', 'proto_score',
               'proto_nearest_id', 'proto_nearest_dist'}


@pytest.fixture(scope='module')
def setup(body_model_files, tmp_path_factory):
    """A random PM-Net whose rarity table puts every prediction at the 100th percentile, and its ONNX."""
    from pmnet_plugin.apis import export_onnx

    def top_percentile(model):
        q = model.head.rarity_scorer.quantiles
        q.copy_(torch.linspace(0.0, 1e-3, len(q)))

    out = demo_setup(body_model_files, tmp_path_factory.mktemp('demo_rarity'), BOX, top_percentile)
    out['onnx'] = str(out['root'] / 'pmnet.onnx')
    w, h = out['model'].head.input_size
    export_onnx(out['model'], out['onnx'], torch.rand(1, 3, h, w) * 255, with_smpl=True, dynamic_batch=True)
    return out


def _run(setup, out_dir, *extra, weights=None):
    return demo.main([setup['cfg'], weights or setup['ckpt'], setup['img_path'], '--out-dir', str(out_dir),
                      '--whole-image', *extra])


def test_rarity_fields_and_rare_label(setup, tmp_path):
    labelled, plain = tmp_path / 'labelled', tmp_path / 'plain'
    assert _run(setup, labelled) == 0
    assert _run(setup, plain, '--rare-thr', '101') == 0  # no percentile reaches it: no label
    arrays = np.load(labelled / 'person.npz')
    for key in ('rarity', 'rarity_percentile', 'proto_nearest_id', 'proto_nearest_dist'):
        assert arrays[key].shape == (1, )
    assert arrays['rarity'][0] > 0 and arrays['rarity_percentile'][0] == 100.0
    assert arrays['proto_nearest_id'].dtype == np.int64
    doc = json.loads((labelled / 'person.json').read_text())
    person = doc['persons'][0]
    assert set(person) == PERSON_KEYS
    assert isinstance(person['proto_nearest_id'], int) and person['rarity_percentile'] == 100.0
    a = cv2.imread(str(labelled / 'person_mesh.png')).astype(int)
    b = cv2.imread(str(plain / 'person_mesh.png')).astype(int)
    changed = np.abs(a - b).max(-1) > 0
    ys, xs = np.nonzero(changed)
    assert changed.sum() > 50 and ys.max() < BOX[1] + 40  # the label, written at the top of the box


def test_unknown_percentile_is_json_null(setup, body_model_files, tmp_path):
    from pmnet_plugin.apis import init_mesh_model
    model = init_mesh_model(setup['cfg'], setup['ckpt'])
    model.head.rarity_scorer.quantiles.fill_(-1.0)  # the "unknown" table
    weights = save_random_checkpoint(model, str(tmp_path / 'nan.pth'))
    assert _run(setup, tmp_path / 'out', weights=weights) == 0
    person = json.loads((tmp_path / 'out' / 'person.json').read_text())['persons'][0]
    assert person['rarity_percentile'] is None and person['rarity'] > 0


def test_onnxruntime_backend_matches_pytorch(setup, tmp_path):
    ours, ref = tmp_path / 'ort', tmp_path / 'pt'
    assert _run(setup, ours, '--backend', 'onnxruntime', weights=setup['onnx']) == 0
    assert _run(setup, ref) == 0
    a, b = np.load(ours / 'person.npz'), np.load(ref / 'person.npz')
    assert set(a.files) == set(b.files)
    for key in ('vertices', 'keypoints_3d', 'keypoints', 'cam_t_full', 'rarity', 'rarity_percentile'):
        np.testing.assert_allclose(a[key], b[key], rtol=1e-4, atol=1e-3, err_msg=key)
    np.testing.assert_array_equal(a['proto_id'], b['proto_id'])
    doc = json.loads((ours / 'person.json').read_text())
    assert set(doc['persons'][0]) == PERSON_KEYS


def test_onnxruntime_backend_needs_the_onnx_file(setup, tmp_path, capsys):
    assert demo.main([setup['cfg'], setup['img_path'], '--backend', 'onnxruntime', '--whole-image',
                      '--out-dir', str(tmp_path)]) == 2
    assert 'needs the exported .onnx file' in capsys.readouterr().err
    assert _run(setup, tmp_path, '--backend', 'onnxruntime', weights=str(tmp_path / 'missing.onnx')) == 2
    assert 'ONNX model not found' in capsys.readouterr().err
