"""The offline 2D stage (configs/td-hm_effnet-lite0_1xb32-400it_synthetic-96x96.py) on a tiny rendered
dataset: tools/train.py writes an ordinary checkpoint, tools/test.py evaluates it with MMPose's PCK / EPE,
and the mesh config starts from it, with the same heatmap joints (tools/heatmap_joint_error.py)."""
import json
import os.path as osp
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import init_default_scope
from mmengine.runner import save_checkpoint

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tools'))
import test as test_tool  # noqa: E402  (tools/test.py)

import heatmap_joint_error  # noqa: E402  (tools/heatmap_joint_error.py)
import train as train_tool  # noqa: E402  (tools/train.py)

pytestmark = pytest.mark.slow  # trains or runs tools end to end (make test-fast leaves it out)

CONFIG = osp.join(ROOT, 'configs/td-hm_effnet-lite0_1xb32-400it_synthetic-96x96.py')


@pytest.fixture(scope='module')
def renders(tmp_path_factory, body_model_files):
    """8 train + 4 test rendered 64 px images in the layout of data/synthetic."""
    pytest.importorskip('pyrender')
    from pmnet_plugin.synthetic.synth_dataset import make_synthetic_dataset
    root = tmp_path_factory.mktemp('synth')
    data_root = str(root / 'synthetic')
    make_synthetic_dataset(data_root, num=8, num_test=4, img_size=64, seed=0, workers=1,
                           body_model=body_model_files['model_path'],
                           pose_library=str(root / 'pose_library.npz'))
    return data_root


def test_2d_stage_trains_tests_and_starts_the_mesh_config(renders, tmp_path, body_model_files):
    cfg = Config.fromfile(CONFIG)
    cfg.model.backbone.init_cfg = None  # no ImageNet weights needed to check the plumbing
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[name].update(batch_size=4)
        cfg[name].dataset.data_root = renders
    cfg.train_cfg.update(max_iters=2, val_interval=2)
    cfg.default_hooks.checkpoint.interval = 2
    cfg.default_hooks.logger.interval = 1
    cfg.work_dir = str(tmp_path / 'work')
    cfg_path = str(tmp_path / 'td-hm.py')
    cfg.dump(cfg_path)

    runner = train_tool.main([cfg_path])
    ckpt = osp.join(cfg.work_dir, 'iter_2.pth')
    assert runner.iter == 2 and osp.isfile(ckpt)
    assert type(runner.model).__name__ == 'TopdownPoseEstimator'
    assert type(runner.model.head).__name__ == 'HeatmapHead'

    out = str(tmp_path / 'metrics.json')
    metrics = test_tool.main([cfg_path, ckpt, '--work-dir', str(tmp_path / 'test'), '--out', out])
    with open(out) as f:
        saved = json.load(f)
    assert set(saved) == {'pck0.05/PCK', 'pck0.1/PCK', 'epe/EPE'}
    assert 0 <= saved['pck0.05/PCK'] <= saved['pck0.1/PCK'] <= 1
    assert np.isfinite(saved['epe/EPE']) and saved['epe/EPE'] > 0
    assert saved['epe/EPE'] == pytest.approx(metrics['epe/EPE'])

    # the Runner's checkpoint (with its message hub and metainfo) starts the HMR config's backbone and neck
    from mmpose.registry import MODELS
    init_default_scope('mmpose')
    mesh = Config.fromfile(osp.join(ROOT, 'configs/hmr_effnet-lite0_1xb32-400it_synthetic-96x96.py'))
    files = body_model_files
    mesh.model.head.body_model.update(model_path=files['model_path'], joint_regressor_h36m=files['h36m_regressor'])
    mesh.model.head.update(mean_params=files['mean_params'], rarity_file=None)
    mesh.model.init_cfg.checkpoint = ckpt
    model = MODELS.build(mesh.model)
    model.init_weights()
    trained = torch.load(ckpt, map_location='cpu')['state_dict']
    assert torch.equal(model.neck.heatmap[1].running_mean, trained['head.deconv_layers.1.running_mean'])
    assert torch.equal(model.backbone._bn1.running_var, trained['backbone._bn1.running_var'])

    # tools/heatmap_joint_error.py: the mesh model reads the 2D stage's heatmaps as the tool says it does
    stage = heatmap_joint_error.main([cfg_path, ckpt, '--out', str(tmp_path / 'err2d.json')])
    for name in ('read_by_neck', 'own_convention'):
        assert stage[name]['num'] == 4 and 0 < stage[name]['all'] < 2 * 2 ** 0.5
    assert stage['read_by_neck']['all'] != pytest.approx(stage['own_convention']['all'])
    mesh.test_dataloader.dataset.data_root = renders
    mesh_cfg, mesh_ckpt = str(tmp_path / 'hmr.py'), str(tmp_path / 'hmr.pth')
    mesh.dump(mesh_cfg)
    save_checkpoint({'state_dict': model.state_dict(), 'meta': {}}, mesh_ckpt)
    started = heatmap_joint_error.main([mesh_cfg, mesh_ckpt])
    assert started['read_by_neck']['all'] == pytest.approx(stage['read_by_neck']['all'], abs=1e-5)
