"""PrototypeEMAHook: finds the EMA heads (also inside a model wrapper) and applies their update."""
from types import SimpleNamespace

import pytest
from mmpose.registry import HOOKS
from torch import nn

import pmnet_plugin  # noqa: F401  (registers the hook)
from pmnet_plugin.engine.hooks.prototype_ema_hook import ema_heads


class _FakeEMAHead(nn.Module):

    def __init__(self, ema_momentum):
        super().__init__()
        self.ema_momentum = ema_momentum
        self.ema_hook_registered = False
        self.updates = 0

    def apply_ema_update(self):
        self.updates += 1


def test_hook_marks_and_updates_only_ema_heads():
    on, off = _FakeEMAHead(0.9), _FakeEMAHead(None)
    model = nn.Sequential(nn.Linear(2, 2), on, off)
    hook = HOOKS.build(dict(type='PrototypeEMAHook'))
    runner = SimpleNamespace(model=model)
    assert ema_heads(model) == [on]
    hook.before_train(runner)
    assert on.ema_hook_registered and not off.ema_hook_registered
    for it in range(3):
        hook.after_train_iter(runner, it)
    assert (on.updates, off.updates) == (3, 0)


def test_hook_without_ema_head_warns():
    hook = HOOKS.build(dict(type='PrototypeEMAHook'))
    with pytest.warns(UserWarning, match='no PrototypeMemoryHead'):
        hook.before_train(SimpleNamespace(model=nn.Linear(2, 2)))
