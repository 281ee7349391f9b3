"""tools/video_eval.py end to end on tiny rendered clips with a random-weight model."""
import json
import os.path as osp
import sys

import numpy as np
import pytest

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(REPO, 'tests', 'test_apis'))
sys.path.insert(0, osp.join(REPO, 'tests'))
from mesh_model_setup import demo_setup  # noqa: E402
from tool_loader import load_tool  # noqa: E402

pytestmark = pytest.mark.slow  # renders and runs a tool end to end (make test-fast leaves it out)


def test_video_eval_reports_raw_and_smoothed(body_model_files, tmp_path):
    pytest.importorskip('pybullet_data')
    tool = load_tool('video_eval')
    setup = demo_setup(body_model_files, tmp_path, (0, 0, 10, 10))
    out = tmp_path / 'eval'
    assert tool.main([setup['cfg'], setup['ckpt'], '--out-dir', str(out), '--frames', '6',
                      '--body-model', body_model_files['model_path'], '--pose-library', '']) == 0
    rows = {r['clip']: r for r in json.loads((out / 'metrics.json').read_text())['rows']}
    assert sorted(rows) == ['dance', 'two-person']
    two = rows['two-person']
    assert (two['frames'], two['people'], two['tracks'], two['id_switches'], two['unmatched']) == (6, 2, 2, 0, 0)
    for row in rows.values():
        for key in ('mpjpe_raw', 'mpjpe_smoothed', 'accel_raw', 'accel_smoothed', 'tracking_ms', 'smoothing_ms'):
            assert np.isfinite(row[key]) and row[key] >= 0
    gt = np.load(out / 'two-person_gt.npz')
    assert gt['joints'].shape == (6, 2, 24, 3) and gt['bboxes'].shape == (6, 2, 4)
    assert '| two-person | 6 x 2 |' in (out / 'report.md').read_text()
