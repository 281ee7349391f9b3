"""Checkpoints survive interrupted saves (``AtomicCheckpointHook``), and outputs of tools/test.py and
tools/train.py that cannot be written end in exit status 3 naming the file, before work is lost.

- SIGKILL while ``iter_2.pth`` is being written with ``max_keep_ckpts=1``: ``iter_1.pth`` is still there
  and complete, no ``iter_2.pth`` exists, ``--resume`` continues from iteration 1 and finishes;
- a full disk (ENOSPC) while a checkpoint is written: exit 3 naming the checkpoint, the previous one kept;
- a work dir that cannot be created: exit 3 before the Runner starts.
"""
import errno
import glob
import os
import os.path as osp
import signal
import subprocess
import sys

import numpy as np
import pytest
import train as train_tool  # (tools/train.py)
from test_train_test import dump, tiny_cfg  # (tiny config; synth: conftest.py)

from pmnet_plugin.apis.checkpoint import read_checkpoint
from pmnet_plugin.utils.cli import run_with_file_errors

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

pytestmark = pytest.mark.slow  # trains or runs tools end to end (make test-fast leaves it out)

PMNET = 'configs/pmnet_res18-w32_1xb16-300it_synthetic-96x96.py'

KILL_DURING_SAVE = '''
import os, signal, sys
sys.path.insert(0, {tools!r})
from mmengine.fileio.backends import local_backend
from mmengine.hooks import CheckpointHook

put = local_backend.LocalBackend.put
if {every_validation_best!r}:
    CheckpointHook.rule_map = dict(less=lambda x, y: True, greater=lambda x, y: True)

def put_then_die(self, obj, filepath):
    if os.path.basename(str(filepath)).startswith({name!r}):  # half the bytes reach the disk, then SIGKILL
        with open(filepath, 'wb') as f:
            f.write(obj[:len(obj) // 2])
            f.flush()
            os.fsync(f.fileno())
        os.kill(os.getpid(), signal.SIGKILL)
    return put(self, obj, filepath)

local_backend.LocalBackend.put = put_then_die
import train
train.main([{cfg!r}, '--cfg-options', 'experiment_name=killed'])
'''


def _killed_during_save(cfg_path: str, name: str, every_validation_best: bool = False) -> None:
    """Runs tools/train.py in a process that is SIGKILLed while ``name`` (or its temporary file) is written."""
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS='1')
    proc = subprocess.run([sys.executable, '-c', KILL_DURING_SAVE.format(
        tools=osp.join(ROOT, 'tools'), cfg=cfg_path, name=name, every_validation_best=every_validation_best)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]


def _cfg(synth, work: str, max_iters: int, keep: int = 1):
    cfg = tiny_cfg(PMNET, synth, work, max_iters=max_iters)
    cfg.default_hooks.checkpoint.update(type='AtomicCheckpointHook', max_keep_ckpts=keep)
    return cfg


def test_sigkill_during_save_keeps_the_previous_checkpoint_then_resumes(synth, tmp_path):
    work = str(tmp_path / 'work')
    cfg_path = dump(_cfg(synth, work, max_iters=3), tmp_path / 'cfg.py')
    _killed_during_save(cfg_path, 'iter_2.pth')
    # MMEngine's hook would have removed iter_1.pth (max_keep_ckpts=1) and left a truncated iter_2.pth
    assert sorted(osp.basename(p) for p in glob.glob(osp.join(work, 'iter_*'))) == [
        'iter_1.pth', 'iter_2.pth.part']
    assert read_checkpoint(osp.join(work, 'iter_1.pth'))['meta']['iter'] == 1
    with open(osp.join(work, 'last_checkpoint')) as f:
        assert f.read() == osp.join(work, 'iter_1.pth')

    runner = train_tool.main([cfg_path, '--resume', '--cfg-options', 'experiment_name=resumed'])
    assert runner.iter == 3
    assert sorted(osp.basename(p) for p in glob.glob(osp.join(work, 'iter_*'))) == ['iter_3.pth']
    ckpt = read_checkpoint(osp.join(work, 'iter_3.pth'))
    assert ckpt['meta']['iter'] == 3
    losses = ckpt['message_hub']['log_scalars']['train/loss'].data[0]
    assert len(losses) == 3 and np.isfinite(losses).all()  # iteration 1 restored, 2 and 3 trained


def test_disk_full_during_save_names_the_checkpoint(synth, tmp_path, monkeypatch, error_line):
    from mmengine.fileio.backends import local_backend
    put = local_backend.LocalBackend.put

    def put_disk_full(self, obj, filepath):
        if osp.basename(str(filepath)).startswith('iter_2.pth'):
            with open(filepath, 'wb') as f:
                f.write(obj[:100])
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return put(self, obj, filepath)

    monkeypatch.setattr(local_backend.LocalBackend, 'put', put_disk_full)
    work = str(tmp_path / 'work')
    cfg_path = dump(_cfg(synth, work, max_iters=2), tmp_path / 'cfg.py')
    assert run_with_file_errors(train_tool.main, [cfg_path, '--cfg-options', 'experiment_name=full']) == 3
    err = error_line()
    ckpt = osp.join(work, 'iter_2.pth')
    assert err.startswith(f'error: cannot write checkpoint {ckpt}: No space left on device')
    assert f'the previous checkpoint {osp.join(work, "iter_1.pth")} is kept' in err and '--resume' in err
    assert sorted(osp.basename(p) for p in glob.glob(osp.join(work, 'iter_*'))) == ['iter_1.pth']
    assert read_checkpoint(osp.join(work, 'iter_1.pth'))['meta']['iter'] == 1


def test_unwritable_work_dir_exits_3_before_training(synth, tmp_path, error_line):
    blocker = tmp_path / 'a_file'
    blocker.write_text('not a folder')
    work = str(blocker / 'work')
    cfg_path = dump(_cfg(synth, str(tmp_path / 'unused'), max_iters=1), tmp_path / 'cfg.py')
    assert run_with_file_errors(train_tool.main, [cfg_path, '--work-dir', work]) == 3
    err = error_line()
    assert err.startswith(f'error: cannot write the work dir {work}/last_checkpoint: {blocker} is a file, '
                          'not a folder')
    assert 'Choose another --work-dir' in err
    assert not osp.exists(tmp_path / 'unused')


def test_old_checkpoints_are_pruned_after_the_new_one(synth, tmp_path):
    work = str(tmp_path / 'work')
    runner = train_tool.main([dump(_cfg(synth, work, max_iters=3, keep=2), tmp_path / 'cfg.py'),
                              '--cfg-options', 'experiment_name=prune'])
    assert runner.iter == 3
    assert sorted(osp.basename(p) for p in glob.glob(osp.join(work, 'iter_*'))) == ['iter_2.pth', 'iter_3.pth']
    assert read_checkpoint(osp.join(work, 'iter_3.pth'))['message_hub']['runtime_info']['keep_ckpt_ids'] == [2, 3]


def test_sigkill_during_a_best_save_keeps_the_previous_best(synth, tmp_path):
    work = str(tmp_path / 'work')
    cfg = _cfg(synth, work, max_iters=3)
    cfg.default_hooks.checkpoint.update(save_best='mesh/MPJPE', rule='less')
    cfg.train_cfg.val_interval = 1
    cfg_path = dump(cfg, tmp_path / 'cfg.py')
    _killed_during_save(cfg_path, 'best_mesh_MPJPE_iter_2.pth', every_validation_best=True)
    # MMEngine's hook would have removed best_..._iter_1.pth before writing the truncated iter_2 one
    assert sorted(osp.basename(p) for p in glob.glob(osp.join(work, 'best_*'))) == [
        'best_mesh_MPJPE_iter_1.pth', 'best_mesh_MPJPE_iter_2.pth.part']
    assert read_checkpoint(osp.join(work, 'best_mesh_MPJPE_iter_1.pth'))['meta']['iter'] == 1
    assert read_checkpoint(osp.join(work, 'iter_2.pth'))['meta']['iter'] == 2  # saved before validation

    runner = train_tool.main([cfg_path, '--resume', '--cfg-options', 'experiment_name=resumed_best'])
    assert runner.iter == 3
    bests = sorted(osp.basename(p) for p in glob.glob(osp.join(work, 'best_*')))
    assert len(bests) == 1 and bests[0].endswith('.pth')  # one best, whole; the .part was removed
    assert read_checkpoint(osp.join(work, bests[0]))['meta']['iter'] >= 1
