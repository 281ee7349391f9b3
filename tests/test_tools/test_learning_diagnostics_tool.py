"""tools/learning_diagnostics.py on a hand-made test split: the articulation column (the predicted body pose
posed with the GT global orientation and shape) separates body-pose errors from orientation errors."""
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from tool_loader import load_tool

N = 8


def _load_tool():
    return load_tool('learning_diagnostics')


def _joints(body, poses, betas):
    """Root-relative SMPL-24 joints (N, 24, 3) in metres of axis-angle poses (N, 72)."""
    from pmnet_plugin.utils.rotation import axis_angle_to_matrix
    rot = axis_angle_to_matrix(torch.as_tensor(poses, dtype=torch.float32).reshape(-1, 24, 3))
    out = body(betas=torch.as_tensor(betas), body_pose=rot[:, 1:], global_orient=rot[:, :1])
    return out['joints'][:, :24].numpy()


@pytest.fixture(scope='module')
def split(tmp_path_factory, body_model_files):
    from pmnet_plugin.models.body_models import SMPLBodyModel
    rng = np.random.default_rng(0)
    poses = rng.normal(0, 0.4, size=(N, 72)).astype(np.float32)
    betas = np.zeros((N, 10), np.float32)
    body = SMPLBodyModel(body_model_files['model_path'])
    joints = _joints(body, poses, betas)
    root = tmp_path_factory.mktemp('diag')
    ann = str(root / 'test.npz')
    np.savez(ann, keypoints3d=np.concatenate([joints, np.ones((N, 24, 1), np.float32)], -1),
             smpl=np.array(dict(global_orient=poses[:, :3], body_pose=poses[:, 3:], betas=betas), dtype=object),
             meta=np.array(dict(is_rare=np.arange(N) % 2 == 0), dtype=object))

    def dump(name, pred_poses):
        path = str(root / f'{name}.npz')
        np.savez(path, smpl_pose=pred_poses, keypoints_3d=_joints(body, pred_poses, betas), sample_idx=np.arange(N))
        return f'{name}={path}'

    wrong_orient = poses.copy()
    wrong_orient[:, :3] = rng.normal(0, 1.0, size=(N, 3))
    mean_body = poses.copy()
    mean_body[:, 3:] = 0  # the synthetic mean parameters' body pose is the rest pose
    preds = [dump('exact', poses), dump('wrong_orient', wrong_orient), dump('mean_body', mean_body)]
    return SimpleNamespace(ann=ann, preds=preds, prototypes=None, body_model=body_model_files['model_path'],
                           mean_params=body_model_files['mean_params'])


def test_articulation_column_separates_orientation(split):
    d = _load_tool().diagnostics(split)
    rows = d['models']
    assert rows['exact']['MPJPE'] < 1e-3 and rows['exact']['articulation']['all'] < 1e-3
    # a wrong global orientation costs MPJPE, not articulation
    assert rows['wrong_orient']['MPJPE'] > 50.0
    assert rows['wrong_orient']['articulation']['all'] < 1e-3
    # the mean body pose with the GT orientation is exactly the baseline row
    baseline = d['baselines']['mean pose with GT orientation and shape']
    assert baseline > 10.0
    assert rows['mean_body']['articulation']['all'] == pytest.approx(baseline, rel=1e-5)


def test_markdown_has_the_column(split):
    tool = _load_tool()
    text = tool.markdown(tool.diagnostics(split), 'test.npz')
    assert 'body pose with GT orientation and shape' in text
    exact = next(line for line in text.splitlines() if line.startswith('| exact |'))
    assert exact.split('|')[3].strip() == '0.0'


def test_subsets_in_the_json(split):
    d = _load_tool().diagnostics(split)
    assert d['subset_sizes'] == {'all': N, 'common clips': N // 2, 'rare clips': N // 2, 'tail 10 %': 1,
                                 'tail 5 %': 1}
    art = d['models']['mean_body']['articulation']
    assert art == pytest.approx(d['baseline_articulation'], rel=1e-5)
    # the tail holds the sample farthest from the mean pose, so its error is the largest
    assert art['tail 5 %'] == pytest.approx(max(art.values()), rel=1e-6)


def test_quickstart_articulation_table(tmp_path):
    import json

    from pmnet_plugin.analysis import quickstart_report
    diags = {}
    for seed, (hmr, pmnet) in enumerate([(200.0, 180.0), (210.0, 178.5)]):
        d = dict(subset_sizes={'all': 10}, baseline_articulation={'all': 195.0},
                 models={'HMR': dict(articulation={'all': hmr}), 'PM-Net': dict(articulation={'all': pmnet})})
        path = tmp_path / f'diagnostics_seed{seed}'
        path.with_suffix('.json').write_text(json.dumps(d))
        diags[seed] = str(path)
    rows = {line.split('|')[1].strip(): line.split('|')[2].strip()
            for line in quickstart_report.articulation_table(diags).splitlines()[2:]}
    assert rows['HMR'] == '205.0 ± 7.1'
    assert rows['mean pose (HMR start)'] == '195.0'
    ratios = [180.0 / 200.0, 178.5 / 210.0]
    assert rows['PM-Net / HMR'] == f'{np.mean(ratios):.3f} ± {np.std(ratios, ddof=1):.3f}'
