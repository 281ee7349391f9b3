"""The one place that reports a non-finite loss or parameter during training, with what to do about it."""
import math
from typing import Dict, List, Optional, Tuple, Union

import numpy as np
import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmpose.registry import HOOKS

from pmnet_plugin.utils.finite_checks import defer_finite_checks

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


def suspicious_labels(data_batch: DATA_BATCH, limit: float) -> List[str]:
    """Describes the samples of a batch whose training labels are non-finite or larger than ``limit``.

    Args:
        data_batch (dict): ``dict(inputs=..., data_samples=[PoseDataSample, ...])`` as the loop passes it.
        limit (float): Largest plausible magnitude of a label (they are metres, radians, [-1, 1] crop
            coordinates and shape coefficients).

    Returns:
        list[str]: ``'sample_idx 3 (img a.jpg): keypoints_3d max |value| 3e+38'`` per suspect label.
    """
    samples = data_batch.get('data_samples') if isinstance(data_batch, dict) else None
    found = []
    for pos, sample in enumerate(samples or []):
        labels = getattr(sample, 'gt_instance_labels', None)
        if labels is None:
            continue
        meta = getattr(sample, 'metainfo', {}) or {}
        where = f'sample_idx {meta.get("sample_idx", "?")} (batch position {pos}, img {meta.get("img_path")})'
        for key in labels.keys():
            value = labels.get(key)
            if isinstance(value, np.ndarray) and np.issubdtype(value.dtype, np.floating):
                value = torch.from_numpy(value)  # labels of mesh_collate
            if not isinstance(value, torch.Tensor) or not value.is_floating_point() or not value.numel():
                continue
            value = value.detach().float()
            if not bool(torch.isfinite(value).all()):
                found.append(f'{where}: {key} holds NaN/inf')
            elif float(value.abs().max()) > limit:
                found.append(f'{where}: {key} max |value| {float(value.abs().max()):.3g}')
    return found


@HOOKS.register_module()
class NaNGuardHook(Hook):
    """Stops training at the first non-finite loss term or parameter, naming it and what to do.

    It wraps the model's ``train_step``: the loss terms are checked before backward and the optimizer step,
    so the weights and every checkpoint stay finite, and the parameters after each step; the body model's
    and ``MeshLoss``'s own NaN checks defer to it. The error names the term, the iteration, its last finite
    value and a hint (suspect labels, learning rate, AMP); ``docs/reliability.md``. Priority ``VERY_HIGH``.

    Args:
        keys (str | list[str]): Prefixes of the loss terms to check. Defaults to ``'loss'`` (the total
            and every ``loss_*`` term).
        interval (int): Check the parameters every ``interval`` iterations. Defaults to 1.
        check_params (bool): Check the parameters after the optimizer step. Defaults to True.
        label_limit (float): Labels with a magnitude above this are reported as suspect. Defaults to 1e4.
    """

    priority = 'VERY_HIGH'

    def __init__(self, keys: Union[str, List[str]] = 'loss', interval: int = 1,
                 check_params: bool = True, label_limit: float = 1e4) -> None:
        self.keys = [keys] if isinstance(keys, str) else list(keys)
        if interval < 1:
            raise ValueError(f'interval must be >= 1, got {interval}')
        self.interval = interval
        self.check_params = check_params
        self.label_limit = label_limit
        self.last_finite: Dict[str, Tuple[float, int]] = {}  # term -> (value, 1-based iteration)
        self._patched: List[Tuple[object, str]] = []

    # ----------------------------------------------------------------------------------- checks
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
            if isinstance(value, (list, tuple)):  # parse_losses accepts lists of tensors
                value = sum(v.detach().float().sum() for v in value) if value else None
            val = _to_float(value)
            if val is not None and not math.isfinite(val):
                bad[name] = val
        if 'loss' in bad and len(bad) > 1:
            bad['loss'] = bad.pop('loss')
        return bad

    @staticmethod
    def non_finite_parameters(model: torch.nn.Module) -> List[str]:
        """Names of the trained parameters holding NaN/inf (one device sync for all of them); frozen ones
        (``requires_grad=False``) cannot turn non-finite through a step and are not read."""
        named = [(n, p) for n, p in model.named_parameters() if p.is_floating_point() and p.requires_grad]
        if not named:
            return []
        # max-abs norms in a few fused kernels per device and dtype (inf or NaN iff an entry is)
        norms = torch._foreach_norm([p.detach() for _, p in named], float('inf'))
        ok = torch.isfinite(torch.stack([v.float().to(norms[0].device) for v in norms])).cpu()
        return [n for (n, _), good in zip(named, ok.tolist()) if not good]

    def _hint(self, runner, data_batch: DATA_BATCH) -> str:
        labels = suspicious_labels(data_batch, self.label_limit) if data_batch is not None else []
        if labels:
            more = f' (+{len(labels) - 5} more)' if len(labels) > 5 else ''
            return ('Suspect labels in this batch: ' + '; '.join(labels[:5]) + more +
                    '. Fix or drop these samples in the annotation file.')
        hint = []
        optim = getattr(runner, 'optim_wrapper', None)
        try:
            lrs = optim.get_lr() if optim is not None else {}
            lr = sorted({v for vals in lrs.values() for v in vals}) if isinstance(lrs, dict) else []
        except Exception:  # noqa: BLE001  (an optimizer without get_lr must not hide the report)
            lr = []
        groups = getattr(getattr(optim, 'optimizer', None), 'param_groups', [])
        base = sorted({g['initial_lr'] for g in groups if 'initial_lr' in g})  # set by LR schedulers
        base_txt = f' (configured {", ".join(f"{v:g}" for v in base)})' if base and base != lr else ''
        hint.append(f'The learning rate is {", ".join(f"{v:g}" for v in lr) or "unknown"}{base_txt}: '
                    'lower it (optim_wrapper.optimizer.lr) or clip gradients (optim_wrapper.clip_grad='
                    'dict(max_norm=1.0)).')
        if type(optim).__name__ == 'AmpOptimWrapper' and getattr(optim, 'cast_dtype', None) == torch.float16:
            hint.append('float16 AMP can overflow: use --amp-dtype bfloat16, or train without --amp.')
        hint.append('No label of this batch is non-finite or above '
                    f'{self.label_limit:g} in magnitude.')
        return ' '.join(hint)

    def _fail(self, runner, what: str, detail: str, data_batch: DATA_BATCH) -> None:
        msg = (f'NaNGuardHook: {what} at iteration {runner.iter + 1} (epoch {runner.epoch + 1}): '
               f'{detail}. {self._hint(runner, data_batch)} Training stopped; the weights were not '
               'updated with it and the last saved checkpoint is unaffected.')
        runner.logger.error(msg)
        raise NonFiniteLossError(msg)

    def _last(self, name: str) -> str:
        if name not in self.last_finite:
            return 'no finite value logged before'
        value, it = self.last_finite[name]
        return f'last finite value {value:.6g} at iteration {it}'

    def check_losses(self, runner, losses: Dict, data_batch: DATA_BATCH = None) -> None:
        """Raises :class:`NonFiniteLossError` if a checked loss term is NaN/inf (see the class doc)."""
        bad = self.non_finite_terms(losses)
        if bad:
            first = next(iter(bad))
            terms = ', '.join(f'{n}={v}' for n, v in bad.items())
            self._fail(runner, f'loss term "{first}" is not finite',
                       f'{terms}; {first}: {self._last(first)}', data_batch)

    # ------------------------------------------------------------------------------------ hooks
    def before_train(self, runner) -> None:
        """Wraps ``train_step`` (finite checks deferred) and ``parse_losses`` (the loss check)."""
        self.after_train(runner)  # never wrap a wrapper (a second train() on the same model)
        model = runner.model
        inner = model.module if is_model_wrapper(model) else model
        step, parse = model.train_step, inner.parse_losses
        state = {}

        def guarded_train_step(data, optim_wrapper):
            state['batch'] = data
            with defer_finite_checks():
                return step(data, optim_wrapper=optim_wrapper)

        def guarded_parse_losses(losses):
            self.check_losses(runner, losses, state.get('batch'))
            return parse(losses)

        for obj, name, fn in ((model, 'train_step', guarded_train_step),
                              (inner, 'parse_losses', guarded_parse_losses)):
            object.__setattr__(obj, name, fn)
            self._patched.append((obj, name))

    def after_train(self, runner) -> None:
        """Removes the wrappers of :meth:`before_train`."""
        while self._patched:
            obj, name = self._patched.pop()
            obj.__dict__.pop(name, None)

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: DATA_BATCH = None,
                         outputs: Optional[Dict] = None) -> None:
        """Checks the logged terms (models with their own ``train_step``) and the parameters."""
        bad = self.non_finite_terms(outputs)
        if bad:
            self.check_losses(runner, outputs, data_batch)
        for name, value in (outputs or {}).items():
            val = _to_float(value) if any(name.startswith(k) for k in self.keys) else None
            if val is not None and math.isfinite(val):
                self.last_finite[name] = (val, runner.iter + 1)
        if not self.check_params or (not self.every_n_train_iters(runner, self.interval)
                                     and not self.is_last_train_iter(runner)):
            return
        model = runner.model.module if is_model_wrapper(runner.model) else runner.model
        params = self.non_finite_parameters(model)
        if params:
            more = f' (+{len(params) - 5} more)' if len(params) > 5 else ''
            loss = self._last('loss')
            msg = (f'NaNGuardHook: parameter "{params[0]}" became non-finite in the optimizer step of '
                   f'iteration {runner.iter + 1} (epoch {runner.epoch + 1}) while the loss was finite '
                   f'({loss}); non-finite: {", ".join(params[:5])}{more}. {self._hint(runner, None)} '
                   'Training stopped before the next forward pass and before any checkpoint of these '
                   'weights; resume from the last checkpoint with the fix.')
            runner.logger.error(msg)
            raise NonFiniteLossError(msg)
