"""Faults around training and evaluation runs, through tools/train.py and tools/test.py on tiny renders.

Rows of the bad-input table covered here: 1 (a mismatched checkpoint in tools/test.py: an HMR checkpoint
under the PM-Net config, a K=8 checkpoint on a K=4 run), 4 (divergence from a huge learning rate, a label
of 3e38, the camera regulariser for negative scales), 6 (a truncated newest checkpoint at resume). A SIGKILL
while a checkpoint is being written: ``test_checkpoint_saves.py``.
"""
import glob
import os.path as osp
import test as test_tool  # (tools/test.py)

import numpy as np
import pytest
import torch
import train as train_tool  # (tools/train.py)
from fault_setups import copy_split, save_model_checkpoint
from test_train_test import NUM_PROTOS, dump, synth, tiny_cfg  # noqa: F401  (tiny data + config)

from pmnet_plugin.apis.checkpoint import CheckpointMismatchError, read_checkpoint
from pmnet_plugin.engine.hooks.nan_guard_hook import NonFiniteLossError
from pmnet_plugin.utils.cli import run_with_file_errors
from pmnet_plugin.utils.safe_pickle import DataFileError

pytestmark = pytest.mark.slow  # trains or runs tools end to end (make test-fast leaves it out)

PMNET = 'configs/pmnet_res18-w32_1xb16-300it_synthetic-96x96.py'
HMR = 'configs/hmr_res18-w32_1xb16-300it_synthetic-96x96.py'


def _logs(work_dir: str) -> str:
    text = ''
    for path in glob.glob(osp.join(work_dir, '**', '*.log'), recursive=True):
        with open(path) as f:
            text += f.read()
    return text


def test_row1_test_tool_refuses_mismatched_checkpoints(synth, tmp_path, capsys):
    cfg = tiny_cfg(PMNET, synth, str(tmp_path / 'work'))
    cfg_path = dump(cfg, tmp_path / 'pmnet.py')
    hmr_cfg = tiny_cfg(HMR, synth, str(tmp_path / 'work'))
    hmr = save_model_checkpoint(hmr_cfg, str(tmp_path / 'hmr.pth'))
    k8 = save_model_checkpoint(cfg, str(tmp_path / 'k8.pth'), num_prototypes=8, prototype_file=None)
    argv = ['--work-dir', str(tmp_path / 'test'), '--cfg-options', 'experiment_name=t']

    with pytest.raises(CheckpointMismatchError) as err:
        test_tool.main([cfg_path, hmr, *argv])
    msg = str(err.value)
    assert f'checkpoint {hmr} does not fit the model' in msg
    assert 'it holds HMRHead (from its stored config)' in msg
    assert f'the config builds PrototypeMemoryHead with K={NUM_PROTOS}' in msg
    assert 'head.proto_pose_rot6d' in msg and '--no-strict' in msg

    assert run_with_file_errors(test_tool.main, [cfg_path, k8, *argv]) == 2
    err = capsys.readouterr().err
    # the tool's one error line (a library's import-time warning may precede it on stderr)
    assert any(line.startswith(f'error: checkpoint {k8} does not fit the model') for line in err.splitlines())
    assert 'PrototypeMemoryHead with K=8 (from its stored config)' in err
    assert 'head.proto_pose_rot6d: checkpoint (8, 24, 6) vs model (4, 24, 6)' in err

    metrics = test_tool.main([cfg_path, k8, '--no-strict', '--work-dir', str(tmp_path / 'loose'),
                              '--cfg-options', 'experiment_name=loose'])
    assert np.isfinite(metrics['mesh/MPJPE'])  # opted out: it runs, and says what it did
    assert 'Loading non-strictly as asked' in _logs(str(tmp_path / 'loose'))


def _train(cfg_path: str, *argv: str):
    return train_tool.main([cfg_path, *argv])


def test_row4_divergence_named_with_iteration_and_hint(synth, tmp_path):
    cfg = tiny_cfg(PMNET, synth, str(tmp_path / 'work'), max_iters=4)
    cfg_path = dump(cfg, tmp_path / 'cfg.py')
    with pytest.raises(NonFiniteLossError) as err:
        _train(cfg_path, '--cfg-options', 'optim_wrapper.optimizer.lr=1e6', 'experiment_name=lr')
    msg = str(err.value)
    assert 'NaNGuardHook:' in msg and 'at iteration ' in msg
    assert '(configured 1e+06)' in msg and 'clip_grad' in msg  # the current lr is in warm-up
    assert ('loss term "loss' in msg and 'last finite value' in msg) or 'parameter "' in msg
    for ckpt in glob.glob(osp.join(str(tmp_path / 'work'), 'iter_*.pth')):  # saved weights are finite
        state = read_checkpoint(ckpt)['state_dict']
        assert all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point()), ckpt


def test_row4_huge_label_named_with_sample_index(synth, tmp_path):
    def one_huge_label(arrays):
        arrays['keypoints3d'] = arrays['keypoints3d'].copy()
        arrays['keypoints3d'][5, 3, 0] = 3e38  # one joint of sample 5

    data_root = copy_split(synth, tmp_path / 'data', one_huge_label)
    cfg = tiny_cfg(PMNET, dict(synth, data_root=data_root), str(tmp_path / 'work'), max_iters=4)
    cfg.train_dataloader.sampler.shuffle = False
    cfg.train_dataloader.dataset.check_labels = False  # the load-time check would refuse it; the guard is tested
    with pytest.raises(NonFiniteLossError) as err:
        _train(dump(cfg, tmp_path / 'cfg.py'), '--cfg-options', 'experiment_name=label')
    msg = str(err.value)
    assert 'at iteration 3' in msg  # batch 2, no shuffling: sample 5 is in the third batch
    assert 'Suspect labels in this batch: sample_idx 5' in msg and 'keypoints_3d' in msg
    assert 'Fix or drop these samples in the annotation file' in msg


def test_row4_camera_regulariser_is_finite_for_negative_scales():
    from pmnet_plugin.models.losses.mesh_losses import CAM_SCALE_FLOOR, cam_scale_regulariser
    s = torch.tensor([1.0, 0.0, CAM_SCALE_FLOOR, -5.0, -1e4], requires_grad=True)
    value = cam_scale_regulariser(s)
    value.sum().backward()
    assert torch.isfinite(value).all() and torch.isfinite(s.grad).all()
    torch.testing.assert_close(value[:3], torch.exp(-20 * s[:3]).detach())  # SPIN's term above the floor
    assert (s.grad < 0).all()  # the gradient still pushes every scale up
    assert torch.isinf(torch.exp(-10.0 * s[3:]) ** 2).all()  # SPIN's unbounded form overflows there


def _truncate(path: str) -> None:
    with open(path, 'r+b') as f:
        f.truncate(osp.getsize(path) // 2)


def test_row6_resume_skips_a_truncated_newest_checkpoint(synth, tmp_path):
    work = str(tmp_path / 'work')
    cfg_path = dump(tiny_cfg(HMR, synth, work, max_iters=2), tmp_path / 'cfg.py')
    _train(cfg_path, '--no-validate', '--cfg-options', 'experiment_name=first')  # no best_*.pth
    _truncate(osp.join(work, 'iter_2.pth'))  # the one last_checkpoint names

    assert run_with_file_errors(train_tool.main, [cfg_path, '--resume', osp.join(work, 'iter_2.pth')]) == 2
    runner = _train(cfg_path, '--resume', '--cfg-options', 'train_cfg.max_iters=3', 'experiment_name=r')
    assert runner.iter == 3
    log = _logs(work)
    assert f'resuming from {osp.join(work, "iter_1.pth")}, the newest checkpoint that loads' in log
    assert 'iter_2.pth: cannot read a PyTorch checkpoint' in log
    assert read_checkpoint(osp.join(work, 'iter_3.pth'))['meta']['iter'] == 3

    for path in glob.glob(osp.join(work, '*.pth')):
        _truncate(path)
    with pytest.raises(DataFileError, match=r'no checkpoint in .* can be loaded: .*iter_3\.pth'):
        _train(cfg_path, '--resume', '--cfg-options', 'experiment_name=none')
