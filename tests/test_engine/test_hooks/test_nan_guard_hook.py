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
    return SimpleNamespace(iter=it, epoch=0, max_iters=100, model=torch.nn.Linear(2, 1),
                           logger=SimpleNamespace(error=logs.append)), logs


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


def test_custom_keys_and_interval_validation():
    hook = NaNGuardHook(keys=['mpjpe'], check_params=False)
    runner, _ = _fake_runner(it=0)
    hook.after_train_iter(runner, 0, outputs=dict(mpjpe=1.0, loss=float('nan')))  # loss not checked
    assert hook.last_finite == {'mpjpe': (1.0, 1)}
    with pytest.raises(NonFiniteLossError, match=r'"mpjpe".*last finite value 1 at iteration 1'):
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


class _BodyModelNet(BaseModel):
    """Linear -> betas -> SMPLBodyModel; its betas turn NaN on the ``nan_at``-th training call."""

    def __init__(self, model_path: str, nan_at: int) -> None:
        super().__init__()
        from pmnet_plugin.models.body_models.smpl import SMPLBodyModel
        self.linear = torch.nn.Linear(4, 10)
        self.body = SMPLBodyModel(model_path=model_path)
        self.nan_at, self.calls = nan_at, 0

    def forward(self, inputs, data_samples=None, mode='tensor'):
        betas = self.linear(inputs) * 0.01
        if mode != 'loss':
            return betas
        self.calls += 1
        if self.calls == self.nan_at:
            betas = betas * float('nan')
        zeros = torch.zeros(len(betas), 23, 3)
        verts = self.body(betas=betas, body_pose=zeros, global_orient=zeros[:, 0])['vertices']
        return dict(loss_vertices=verts.abs().mean())


def _runner(model, work_dir, lr=1e-3, hooks=(dict(type='NaNGuardHook'), )):
    return Runner(
        model=model, work_dir=str(work_dir),
        train_dataloader=dict(dataset=_Data(), sampler=dict(type='DefaultSampler', shuffle=False),
                              batch_size=2, num_workers=0, collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=lr)),
        train_cfg=dict(by_epoch=False, max_iters=4),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=1, by_epoch=False)),
        custom_hooks=list(hooks), log_processor=dict(by_epoch=False), default_scope='mmpose',
        visualizer=dict(type='Visualizer', vis_backends=[dict(type='LocalVisBackend')]))


def test_guard_reports_before_the_body_model_check(body_model_files, tmp_path):
    """The body model's own NaN check defers to the hook inside training, and only there."""
    model = _BodyModelNet(body_model_files['model_path'], nan_at=2)
    with pytest.raises(NonFiniteLossError) as err:
        _runner(model, tmp_path / 'guarded').train()
    msg = str(err.value)
    assert '"loss_vertices" is not finite at iteration 2' in msg
    assert 'last finite value' in msg and 'learning rate is 0.001' in msg
    assert sorted(osp.basename(p) for p in glob.glob(str(tmp_path / 'guarded' / 'iter_*.pth'))) == \
        ['iter_1.pth']
    assert torch.isfinite(model.linear.weight).all()  # checked before backward: no NaN step
    zeros = torch.zeros(1, 23, 3)
    with pytest.raises(ValueError, match='betas contains NaN'):  # outside training: its own check
        model.body(betas=torch.full((1, 10), float('nan')), body_pose=zeros, global_orient=zeros[:, 0])

    unguarded = _BodyModelNet(body_model_files['model_path'], nan_at=2)
    with pytest.raises(ValueError, match='betas contains NaN'):  # no hook: the body model raises
        _runner(unguarded, tmp_path / 'plain', hooks=()).train()


class _ScalarWeight(BaseModel):
    """loss = w: finite while the SGD steps push w past float32's range."""

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))

    def forward(self, inputs, data_samples=None, mode='tensor'):
        return dict(loss_w=self.w.sum()) if mode == 'loss' else self.w


def test_guard_reports_a_parameter_that_overflows(tmp_path):
    with pytest.raises(NonFiniteLossError) as err:
        _runner(_ScalarWeight(), tmp_path, lr=2e38).train()
    msg = str(err.value)
    assert 'parameter "w" became non-finite in the optimizer step of iteration 2' in msg
    assert 'last finite value -2e+38 at iteration 2' in msg and 'lower it' in msg
    assert sorted(osp.basename(p) for p in glob.glob(str(tmp_path / 'iter_*.pth'))) == ['iter_1.pth']
