"""Stops training at the first non-finite loss and says which term and iteration."""
import math
from typing import Dict, List, Optional, Union

import torch
from mmengine.hooks import Hook
from mmpose.registry import HOOKS

DATA_BATCH = Optional[Union[dict, tuple, list]]


class NonFiniteLossError(FloatingPointError):
    """Raised by :class:`NaNGuardHook`; a ``FloatingPointError`` so callers may catch either."""


def _to_float(value) -> Optional[float]:
    """Reads a logged loss value (tensor, number or numpy scalar) as a float; None if not a scalar."""
    if isinstance(value, torch.Tensor):
        if value.numel() == 0:
            return None
        value = value.detach().float()
        # a non-finite element anywhere in a per-sample loss makes the term non-finite
        return float(value.sum().cpu()) if value.numel() > 1 else float(value.cpu())
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


@HOOKS.register_module()
class NaNGuardHook(Hook):
    """Raises :class:`NonFiniteLossError` as soon as a loss term is NaN or inf.

    MMEngine's ``train_step`` returns the parsed ``log_vars`` (``loss`` = the total, plus each ``loss_*`` term
    and extras such as ``mpjpe``). This hook inspects them after every training iteration and stops the run
    with a message naming the offending term(s) and the 1-based iteration (as printed by ``LoggerHook``).
    It runs at priority ``VERY_HIGH``, i.e. before ``CheckpointHook``, so a diverged model is never saved.

    The optimizer step of that iteration has already happened (hooks cannot run between backward and step),
    so the weights in memory may be corrupted; the last checkpoint on disk is clean.

    Args:
        keys (str | list[str], optional): Prefixes of the logged values to check. Defaults to ``'loss'``
            (the total and every ``loss_*`` term; metrics like ``mpjpe`` are ignored).
        interval (int): Check every ``interval`` iterations. Defaults to 1.
    """

    priority = 'VERY_HIGH'

    def __init__(self, keys: Union[str, List[str]] = 'loss', interval: int = 1) -> None:
        self.keys = [keys] if isinstance(keys, str) else list(keys)
        if interval < 1:
            raise ValueError(f'interval must be >= 1, got {interval}')
        self.interval = interval

    def non_finite_terms(self, outputs: Optional[Dict]) -> Dict[str, float]:
        """Returns ``{name: value}`` of the checked terms that are NaN or inf, in logging order.

        The total ``loss`` is listed last, since any bad term makes it non-finite too.
        """
        if not isinstance(outputs, dict):
            return {}
        bad = {}
        for name, value in outputs.items():
            if not any(name.startswith(k) for k in self.keys):
                continue
            val = _to_float(value)
            if val is not None and not math.isfinite(val):
                bad[name] = val
        if 'loss' in bad and len(bad) > 1:
            bad['loss'] = bad.pop('loss')
        return bad

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: DATA_BATCH = None,
                         outputs: Optional[Dict] = None) -> None:
        """Checks ``outputs`` (the ``log_vars`` of this iteration) and raises if a term is not finite."""
        if not self.every_n_train_iters(runner, self.interval) and not self.is_last_train_iter(runner):
            return
        bad = self.non_finite_terms(outputs)
        if not bad:
            return
        terms = ', '.join(f'{name}={val}' for name, val in bad.items())
        first = next(iter(bad))
        msg = (f'NaNGuardHook: loss term "{first}" is not finite at iteration {runner.iter + 1} '
               f'(epoch {runner.epoch + 1}, batch {batch_idx}): {terms}. Training stopped; '
               'the last saved checkpoint is unaffected. Try a lower lr, gradient clipping '
               '(optim_wrapper.clip_grad) or check the labels of this batch.')
        runner.logger.error(msg)
        raise NonFiniteLossError(msg)
