"""Trains a pmnet_plugin model with MMEngine's Runner (modelled on MMPose 1.x ``tools/train.py``).

    python tools/train.py configs/pmnet_res18-w32-1xb16-300it_synthetic-96x96.py --work-dir work_dirs/pmnet
    python tools/train.py CONFIG --resume                    # resume from the newest checkpoint of work-dir
                                                             # that loads (truncated ones are skipped)
    python tools/train.py CONFIG --resume work_dirs/x/iter_100.pth
    python tools/train.py CONFIG --amp --amp-dtype bfloat16  # mixed precision (GPU)
    bash tools/dist_train.sh CONFIG 2 [args]                 # torchrun, --launcher pytorch

Does not import ``mmpose.apis`` (it needs torchvision, which may be missing).
"""
import argparse
import os
import os.path as osp
import sys

# the repo root first, so that `python tools/train.py` finds pmnet_plugin without installing it
sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..')))

from mmengine.config import Config, DictAction  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import pmnet_plugin  # noqa: E402,F401  (registers components; torch>=2.6 checkpoint fix)
from pmnet_plugin.apis.checkpoint import read_checkpoint  # noqa: E402
from pmnet_plugin.engine import setup_cpu_distributed  # noqa: E402  (also: NaNGuardHook, no torchvision)
from pmnet_plugin.engine.resume import find_resumable_checkpoint  # noqa: E402
from pmnet_plugin.utils.cli import run_with_file_errors  # noqa: E402

NAN_GUARD = dict(type='NaNGuardHook')


def parse_args(argv=None) -> argparse.Namespace:
    """Parses the command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description='Train a pmnet_plugin mesh model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from the given checkpoint, or from the latest one in work-dir if no path is given')
    parser.add_argument('--amp', action='store_true', help='enable automatic mixed precision training')
    parser.add_argument(
        '--amp-dtype', choices=['float16', 'bfloat16'], default=None,
        help='AMP dtype (default: float16 with a dynamic loss scale; bfloat16 needs no loss scale)')
    parser.add_argument('--no-validate', action='store_true', help='do not evaluate during training')
    parser.add_argument(
        '--no-nan-guard', action='store_true', help='do not add NaNGuardHook (on by default)')
    parser.add_argument(
        '--cfg-options', nargs='+', action=DictAction,
        help='override config settings, key=value pairs, e.g. train_cfg.max_iters=10')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none', help='job launcher')
    # torch.distributed.launch passes --local-rank since torch 2.0
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args(argv)
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def add_nan_guard(cfg: Config) -> None:
    """Appends ``NaNGuardHook`` to ``cfg.custom_hooks`` unless the config already has one."""
    hooks = list(cfg.get('custom_hooks', None) or [])
    if not any(h.get('type') in ('NaNGuardHook', 'mmpose.NaNGuardHook') for h in hooks):
        hooks.append(dict(NAN_GUARD))
    cfg.custom_hooks = hooks


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Applies the command line to ``cfg`` (``--cfg-options`` last, so it wins)."""
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])

    if args.amp or args.amp_dtype is not None:
        optim_type = cfg.optim_wrapper.get('type', 'OptimWrapper')
        if optim_type not in ('OptimWrapper', 'AmpOptimWrapper'):
            raise ValueError('--amp needs optim_wrapper.type OptimWrapper or AmpOptimWrapper, '
                             f'got {optim_type}')
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        dtype = args.amp_dtype or 'float16'
        cfg.optim_wrapper.dtype = dtype
        # bf16 has fp32's range: no loss scaling needed (a static scale of 1 is a no-op)
        cfg.optim_wrapper.setdefault('loss_scale', 'dynamic' if dtype == 'float16' else 1.0)

    if args.resume == 'auto':
        cfg.resume = True
        cfg.load_from = None
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume

    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None

    if not args.no_nan_guard:
        add_nan_guard(cfg)

    if args.cfg_options is not None:
        cfg.merge_from_dict(args.cfg_options)
    return cfg


def resolve_resume(cfg: Config) -> None:
    """With ``resume`` and no checkpoint given, points ``load_from`` at the newest one that loads.

    MMEngine would take the one named in ``work_dir/last_checkpoint`` even when it is truncated; see
    ``pmnet_plugin.engine.resume``. A given checkpoint that does not load is an error naming it.
    """
    if not cfg.get('resume', False):
        return
    if cfg.get('load_from', None) is None:
        cfg.load_from = find_resumable_checkpoint(cfg.work_dir)
    else:
        read_checkpoint(cfg.load_from)


def main(argv=None) -> Runner:
    """Builds the Runner from the config, trains and returns the Runner."""
    args = parse_args(argv)
    cfg = merge_args(Config.fromfile(args.config), args)
    resolve_resume(cfg)
    setup_cpu_distributed(cfg)  # torchrun on a machine without CUDA: gloo, DDP without device ids
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


if __name__ == '__main__':
    sys.exit(run_with_file_errors(main))
