"""Applies the EMA update of PM-Net's prototype memory after each training iteration."""
import warnings
from typing import List, Optional, Union

from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpose.registry import HOOKS
from torch import nn

DATA_BATCH = Optional[Union[dict, tuple, list]]


def ema_heads(model: nn.Module) -> List[nn.Module]:
    """The modules of ``model`` (unwrapped from DDP) that keep an EMA prototype memory.

    Args:
        model (nn.Module): The runner's model, possibly a model wrapper.

    Returns:
        list[nn.Module]: Modules with ``apply_ema_update`` and a set ``ema_momentum``
        (:class:`PrototypeMemoryHead` with ``ema_momentum`` not None).
    """
    model = model.module if is_model_wrapper(model) else model
    return [m for m in model.modules()
            if hasattr(m, 'apply_ema_update') and getattr(m, 'ema_momentum', None) is not None]


@HOOKS.register_module()
class PrototypeEMAHook(Hook):
    """Moves the assigned prototypes of a ``PrototypeMemoryHead`` with ``ema_momentum`` towards their GT poses.

    After each iteration it calls the head's ``apply_ema_update`` with the assignment its ``loss`` recorded.
    Such a head refuses to train without ``custom_hooks = [dict(type='PrototypeEMAHook')]``; with no such
    head in the model the hook warns once and does nothing.
    """

    priority = 'NORMAL'

    def before_train(self, runner) -> None:
        """Tell the EMA heads that the update will be applied."""
        heads = ema_heads(runner.model)
        if not heads:
            warnings.warn('PrototypeEMAHook: the model has no PrototypeMemoryHead with ema_momentum set; '
                          'the hook does nothing.')
        for head in heads:
            head.ema_hook_registered = True

    def after_train_iter(self, runner, batch_idx: int, data_batch: DATA_BATCH = None,
                         outputs: Optional[dict] = None) -> None:
        """Apply the assignment recorded by this iteration's loss to the prototypes."""
        for head in ema_heads(runner.model):
            head.apply_ema_update()
