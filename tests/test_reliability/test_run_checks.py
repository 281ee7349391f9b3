"""One run per work dir, arguments checked before the work, and inputs that used to fail late or silently.

Cases of ``docs/reliability.md`` ("Reliability of runs and caches"): Q3 two trainings on one work dir,
Q7 a degenerate box, Q19 ``tools/test.py --out metrics.txt``, Q20 ``--resume`` on an empty or mistyped
work dir, Q21-Q22 a ``--cfg-options`` typo and a malformed pair, Q23-Q24 an empty and a NaN pose file in
``tools/build_prototypes.py``, Q27-Q28 Balanced MSE's sigma floor and a batch of one.
"""
import os.path as osp
import subprocess
import sys
import test as test_tool  # (tools/test.py)

import numpy as np
import pytest
import torch
import train as train_tool  # (tools/train.py)
from fault_setups import copy_split
from test_train_test import dump, tiny_cfg  # (tiny config; synth: conftest.py)
from tool_loader import load_tool

from pmnet_plugin.utils.cli import run_with_file_errors
from pmnet_plugin.utils.workdir_lock import FolderBusyError, FolderLock

HMR = 'configs/hmr_res18-w32_1xb16-300it_synthetic-96x96.py'
HOLD = ('import sys, time; sys.path.insert(0, {root!r}); from pmnet_plugin.utils.workdir_lock import FolderLock; '
        'FolderLock({wd!r}, command="train.py run A").acquire(); print("held", flush=True); time.sleep(120)')
ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


@pytest.mark.slow
def test_q3_a_second_training_on_a_busy_work_dir_stops_and_touches_nothing(synth, tmp_path, error_line):
    work = str(tmp_path / 'work')
    cfg_path = dump(tiny_cfg(HMR, synth, work), tmp_path / 'cfg.py')
    holder = subprocess.Popen([sys.executable, '-c', HOLD.format(root=ROOT, wd=work)], stdout=subprocess.PIPE,
                              text=True)
    try:
        assert holder.stdout.readline().strip() == 'held'  # run A holds the work dir
        (tmp_path / 'work' / 'iter_2.pth').write_bytes(b'run A is saving this')
        assert run_with_file_errors(train_tool.main, [cfg_path]) == 3
        line = error_line()
        assert f'the work dir {work} is in use by another run (PID {holder.pid} running: train.py run A)' in line
        assert (tmp_path / 'work' / 'iter_2.pth').read_bytes() == b'run A is saving this'
    finally:
        holder.kill()
        holder.wait()
    # run A was killed: its lock is taken over with a warning naming it
    with pytest.warns(UserWarning, match=f'taking over the lock of PID {holder.pid} .*which has ended'):
        lock = FolderLock(work).acquire()
    with pytest.raises(FolderBusyError):  # a second holder in the same process is refused too
        FolderLock(work).acquire()
    lock.release()


@pytest.mark.slow
def test_q7_a_zero_width_box_is_refused_at_load(synth, tmp_path, error_line):
    def zero_width(arrays):
        arrays['bbox_xywh'][2, 2] = 0.0

    data = copy_split(synth, tmp_path / 'data', zero_width)
    cfg = tiny_cfg(HMR, synth, str(tmp_path / 'work'))
    cfg.train_dataloader.dataset.data_root = data
    assert run_with_file_errors(train_tool.main, [dump(cfg, tmp_path / 'cfg.py')]) == 2
    line = error_line()
    assert 'field bbox_xywh' in line and '1 of 8 samples have a box of zero or negative width' in line
    assert 'first: sample 2' in line and 'width 0' in line


def test_q19_test_out_extension_is_checked_first(capsys):
    with pytest.raises(SystemExit) as exc:
        test_tool.parse_args([HMR, 'missing.pth', '--out', 'metrics.txt'])
    assert exc.value.code == 2
    assert '--out metrics.txt: the metrics file must end with .json' in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize('kind', ['empty', 'mistyped'])
def test_q20_resume_without_a_checkpoint_is_an_error(kind, synth, tmp_path, error_line):
    work = tmp_path / ('work' if kind == 'empty' else 'wrok')
    if kind == 'empty':
        work.mkdir()
    cfg_path = dump(tiny_cfg(HMR, synth, str(work)), tmp_path / 'cfg.py')
    assert run_with_file_errors(train_tool.main, [cfg_path, '--resume']) == 2
    state = 'holds no checkpoint (*.pth)' if kind == 'empty' else 'does not exist'
    assert f'--resume: the work dir {work} {state}, so there is nothing to resume' in error_line()
    assert kind == 'empty' or not work.exists()  # a mistyped dir is not created


def test_q21_a_cfg_options_typo_names_the_nearest_key(error_line):
    argv = [HMR, '--work-dir', 'unused', '--cfg-options', 'default_hooks.checkpoint.intervall=1']
    assert run_with_file_errors(train_tool.main, argv) == 2
    assert ("key 'default_hooks.checkpoint.intervall' exists nowhere in the config; the nearest existing key is "
            'default_hooks.checkpoint.interval') in error_line()
    args = train_tool.parse_args([HMR, '--allow-new-cfg-keys', '--cfg-options', 'model.head.new_key=1'])
    from mmengine.config import Config
    assert train_tool.merge_args(Config.fromfile(HMR), args).model.head.new_key == 1  # opted in
    args = train_tool.parse_args([HMR, '--cfg-options', 'experiment_name=x', 'randomness.seed=3'])
    assert train_tool.merge_args(Config.fromfile(HMR), args).randomness.seed == 3  # Runner arguments


def test_q22_a_malformed_cfg_options_pair_is_named(capsys):
    with pytest.raises(SystemExit) as exc:
        train_tool.parse_args([HMR, '--cfg-options', 'train_cfg.max_iters', '5'])
    assert exc.value.code == 2
    assert ("--cfg-options: 'train_cfg.max_iters' is not a key=value pair (did you mean train_cfg.max_iters=5?)"
            in capsys.readouterr().err)


@pytest.mark.parametrize('poses, expected', [
    (np.zeros((0, 72)), 'holds no poses that read as (N, 72)'),
    (np.where(np.arange(10)[:, None] == 3, np.nan, np.zeros((10, 72))), '1 of 10 poses are not finite (rows 3)'),
])
def test_q23_q24_empty_or_nan_pose_files_are_named(poses, expected, tmp_path, error_line):
    path = str(tmp_path / 'poses.npz')
    np.savez(path, poses=poses)
    build = load_tool('build_prototypes')
    out = tmp_path / 'protos.npz'
    assert run_with_file_errors(build.main, ['--poses', path, '--k', '2', '--out', str(out)]) == 2
    line = error_line()
    assert line.startswith(f'error: {path}: ') and expected in line
    assert not out.exists()


def test_q27_balanced_mse_refuses_a_sigma_below_its_floor():
    from pmnet_plugin.models.losses.balanced_mse_loss import NOISE_SIGMA_FLOOR, BalancedMSELoss
    with pytest.raises(ValueError, match='init_noise_sigma must be at least 0.001 .* got 1e-20'):
        BalancedMSELoss(init_noise_sigma=1e-20)
    loss = BalancedMSELoss(init_noise_sigma=NOISE_SIGMA_FLOOR)  # the floor itself is finite
    pred, target = torch.randn(4, 24, 3), torch.randn(4, 24, 3)
    assert torch.isfinite(loss(pred, target))


def test_q28_balanced_mse_warns_once_on_a_batch_of_one(monkeypatch):
    from pmnet_plugin.models.losses import balanced_mse_loss as bmse
    logged = []
    monkeypatch.setattr(bmse, 'print_log', lambda msg, **kw: logged.append(msg))
    loss = bmse.BalancedMSELoss(init_noise_sigma=0.5)
    assert loss(torch.randn(1, 24, 3), torch.randn(1, 24, 3)) == 0
    loss(torch.randn(1, 24, 3), torch.randn(1, 24, 3))
    assert len(logged) == 1 and 'a batch of 1 sample' in logged[0] and 'batch size of at least 2' in logged[0]
    loss(torch.randn(2, 24, 3), torch.randn(2, 24, 3))
    assert len(logged) == 1
