"""NaNGuardHook: unit checks of the term detection + a real Runner stopped at the first NaN loss."""
import glob
import os.path as osp
from types import SimpleNamespace

import pytest
import torch
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

import pmnet_plugin.engine  # noqa: F401  (registers the hook; Runner without torchvision)
from pmnet_plugin.engine.hooks import NaNGuardHook
from pmnet_plugin.engine.hooks.nan_guard_hook import NonFiniteLossError


class _Data(Dataset):

    def __len__(self) -> int:
        return 8

    def __getitem__(self, idx):
        return dict(inputs=torch.full((4,), float(idx)))


class _NaNAtCall(BaseModel):
    """``loss_reg`` turns NaN on the ``nan_at``-th (1-based) training call."""

    def __init__(self, nan_at: int) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(4, 1)
        self.nan_at = nan_at
        self.calls = 0

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.linear(inputs)
        if mode != 'loss':
            return out
        self.calls += 1
        reg = out.abs().mean() * (float('nan') if self.calls == self.nan_at else 1.0)
        return dict(loss_fit=out.pow(2).mean(), loss_reg=reg, mpjpe=torch.tensor(float('inf')))


def _fake_runner(it: int = 6):
    logs = []
    return SimpleNamespace(iter=it, epoch=0, max_iters=100, logger=SimpleNamespace(error=logs.append)), logs


def test_finite_outputs_pass():
    hook = NaNGuardHook()
    runner, logs = _fake_runner()
    hook.after_train_iter(runner, 0, outputs=dict(loss=torch.tensor(1.), loss_kpt=torch.tensor(0.5)))
    hook.after_train_iter(runner, 0, outputs=None)
    assert logs == []


def test_names_term_and_iteration():
    hook = NaNGuardHook()
    runner, logs = _fake_runner(it=6)
    outputs = dict(loss=torch.tensor(float('nan')), loss_kpt=torch.tensor(0.3),
                   loss_pose=torch.tensor(float('inf')), mpjpe=torch.tensor(float('nan')))
    with pytest.raises(NonFiniteLossError, match=r'"loss_pose" is not finite at iteration 7') as err:
        hook.after_train_iter(runner, 2, outputs=outputs)
    assert 'loss_kpt' not in str(err.value) and 'mpjpe' not in str(err.value)
    assert isinstance(err.value, FloatingPointError) and len(logs) == 1


def test_interval_and_custom_keys():
    hook = NaNGuardHook(keys=['mpjpe'], interval=2)
    runner, _ = _fake_runner(it=0)  # iteration 1: skipped by interval 2
    hook.after_train_iter(runner, 0, outputs=dict(mpjpe=float('nan')))
    runner.iter = 1
    with pytest.raises(NonFiniteLossError, match='"mpjpe"'):
        hook.after_train_iter(runner, 1, outputs=dict(mpjpe=float('nan'), loss=1.0))
    with pytest.raises(ValueError):
        NaNGuardHook(interval=0)


def test_runner_stops_before_checkpointing(tmp_path):
    runner = Runner(
        model=_NaNAtCall(nan_at=3), work_dir=str(tmp_path),
        train_dataloader=dict(dataset=_Data(), sampler=dict(type='DefaultSampler', shuffle=False),
                              batch_size=2, num_workers=0, collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=1e-3)),
        train_cfg=dict(by_epoch=False, max_iters=6),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1, by_epoch=False)),
        custom_hooks=[dict(type='NaNGuardHook')],
        log_processor=dict(by_epoch=False), default_scope='mmpose',
        visualizer=dict(type='Visualizer', vis_backends=[dict(type='LocalVisBackend')]))
    with pytest.raises(FloatingPointError, match=r'"loss_reg" is not finite at iteration 3'):
        runner.train()
    saved = sorted(osp.basename(p) for p in glob.glob(osp.join(str(tmp_path), 'iter_*.pth')))
    assert saved == ['iter_1.pth', 'iter_2.pth']  # the diverged iteration 3 was never saved
