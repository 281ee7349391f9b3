"""Save -> resume with a real MMEngine Runner under torch >= 2.6 (weights_only loading by default)."""
import io
import os.path as osp

import numpy as np
import pytest
import torch
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

import pmnet_plugin  # noqa: F401  (applies the fix at import)
import pmnet_plugin.engine  # noqa: F401  (Runner without torchvision)
from pmnet_plugin.compat.checkpoint import allow_mmengine_checkpoints, mmengine_safe_globals


class _ToyDataset(Dataset):
    """Random (x, y) pairs; numpy arrays in ``metainfo`` like an MMPose dataset (saved as dataset_meta)."""

    metainfo = dict(dataset_name='toy', flip_indices=[1, 0], sigmas=np.array([0.1, 0.2], np.float32),
                    keypoint_colors=np.array([[255, 0, 0], [0, 255, 0]], np.uint8))

    def __init__(self, num: int = 8) -> None:
        self.x = torch.randn(num, 4, generator=torch.Generator().manual_seed(0))

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, idx):
        return dict(inputs=self.x[idx], data_samples=self.x[idx].sum(0, keepdim=True))


class _ToyModel(BaseModel):

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(4, 1)

    def forward(self, inputs, data_samples=None, mode='tensor'):
        out = self.linear(inputs)
        if mode == 'loss':
            return dict(loss_mse=((out - data_samples) ** 2).mean())
        return out


def _runner(work_dir: str, max_iters: int, **kwargs) -> Runner:
    # the work dir names the run: Runners started within the same second (the default name is the time)
    # would otherwise share one MessageHub and its loss history
    return Runner(
        model=_ToyModel(), work_dir=work_dir, experiment_name=osp.basename(work_dir),
        train_dataloader=dict(dataset=_ToyDataset(), sampler=dict(type='DefaultSampler', shuffle=True),
                              batch_size=2, num_workers=0, collate_fn=dict(type='default_collate')),
        optim_wrapper=dict(optimizer=dict(type='Adam', lr=1e-2)),
        param_scheduler=[dict(type='MultiStepLR', milestones=[3], by_epoch=False)],
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', interval=2, by_epoch=False),
                           logger=dict(type='LoggerHook', interval=1)),
        log_processor=dict(by_epoch=False), randomness=dict(seed=0), default_scope='mmpose',
        visualizer=dict(type='Visualizer', vis_backends=[dict(type='LocalVisBackend')]), **kwargs)


@pytest.fixture(scope='module')
def saved_run(tmp_path_factory):
    """Trains 4 iterations uninterrupted, checkpoints at 2 and 4; returns its final state."""
    work_dir = str(tmp_path_factory.mktemp('compat'))
    runner = _runner(work_dir, max_iters=4)
    runner.train()
    return dict(work_dir=work_dir, weights={k: v.clone() for k, v in runner.model.state_dict().items()},
                losses=_losses(runner), last_step=runner.param_schedulers[0].last_step)


def _losses(runner) -> np.ndarray:
    return runner.message_hub.get_scalar('train/loss').data[0]


def test_checkpoint_needs_only_allowlisted_globals(saved_run):
    """Every non-tensor global in a real Runner checkpoint is on our allow-list (and nothing else)."""
    work_dir = saved_run['work_dir']
    registered = torch.serialization.get_safe_globals()
    torch.serialization.clear_safe_globals()  # list what plain torch refuses
    try:
        unsafe = set(torch.serialization.get_unsafe_globals_in_checkpoint(osp.join(work_dir, 'iter_4.pth')))
    finally:
        torch.serialization.add_safe_globals(registered)
    names = {g[1] if isinstance(g, tuple) else f'{g.__module__}.{g.__qualname__}'
             for g in mmengine_safe_globals()}
    assert 'mmengine.logging.history_buffer.HistoryBuffer' in unsafe
    assert unsafe <= names, f'not allow-listed: {unsafe - names}'


def test_resume_continues_from_saved_iteration(saved_run, tmp_path):
    work_dir, final_weights, losses = saved_run['work_dir'], saved_run['weights'], saved_run['losses']
    ckpt = osp.join(work_dir, 'iter_2.pth')
    runner = _runner(str(tmp_path), max_iters=4, resume=True, load_from=ckpt)
    runner.train()  # would raise UnpicklingError ('Unsupported global ... HistoryBuffer') without the fix
    assert runner.iter == 4
    # the loss history of iterations 1-2 came from the checkpoint, 3-4 from this run (same data order)
    np.testing.assert_allclose(_losses(runner), losses, rtol=1e-6)
    assert len(losses) == 4
    assert runner.param_schedulers[0].last_step == saved_run['last_step']
    assert runner.optim_wrapper.get_lr()["lr"][0] == pytest.approx(1e-3)  # milestone 3 was passed
    # same seed, same data order, restored optimizer state: the same weights as the uninterrupted run
    for key, value in runner.model.state_dict().items():
        torch.testing.assert_close(value, final_weights[key])


def test_load_checkpoint_weights_only(saved_run):
    from mmengine.runner import load_checkpoint
    work_dir, final_weights = saved_run['work_dir'], saved_run['weights']
    model = _ToyModel()
    ckpt = load_checkpoint(model, osp.join(work_dir, 'iter_4.pth'))
    assert ckpt['meta']['iter'] == 4
    torch.testing.assert_close(model.linear.weight, final_weights['linear.weight'])


class _Arbitrary:
    pass


class _GetattrOther:
    """Pickles as ``getattr(HistoryBuffer, 'update')``: not a statistics method."""

    def __reduce__(self):
        from mmengine.logging import HistoryBuffer
        return getattr, (HistoryBuffer, 'update')


def _roundtrip(obj):
    buf = io.BytesIO()
    torch.save(obj, buf)
    buf.seek(0)
    return torch.load(buf)


def test_other_globals_still_refused():
    """The fix is narrow: unknown classes and other getattr targets are still rejected."""
    with pytest.raises(Exception, match='Unsupported global'):
        _roundtrip({'x': _Arbitrary()})
    with pytest.raises(Exception, match='refusing getattr'):
        _roundtrip({'x': _GetattrOther()})
    from mmengine.logging import HistoryBuffer
    buf = HistoryBuffer()
    buf.update(3.0)
    assert _roundtrip({'b': buf})['b'].current() == 3.0


def test_idempotent():
    before = len(torch.serialization.get_safe_globals())
    assert allow_mmengine_checkpoints() == allow_mmengine_checkpoints()
    assert len(torch.serialization.get_safe_globals()) == before
