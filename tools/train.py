"""Trains a pmnet_plugin model with MMEngine's Runner (modelled on MMPose 1.x ``tools/train.py``).

    python tools/train.py configs/pmnet_res18-w32_1xb16-300it_synthetic-96x96.py --work-dir work_dirs/pmnet
    python tools/train.py CONFIG --resume                    # resume from the newest checkpoint of work-dir
                                                             # that loads (truncated ones are skipped)
    python tools/train.py CONFIG --resume work_dirs/x/iter_100.pth
    python tools/train.py CONFIG --amp --amp-dtype bfloat16  # mixed precision (GPU)
    bash tools/dist_train.sh CONFIG 2 [args]                 # torchrun, --launcher pytorch

One run per work dir: a second run on a work dir in use stops at once naming the holder (exit 3). ``--resume``
with no checkpoint in the work dir is an error (exit 2), not a start from scratch. Does not import
``mmpose.apis`` (it needs torchvision, which may be missing).
"""
import argparse
import os
import os.path as osp
import sys

# the repo root first, so that `python tools/train.py` finds pmnet_plugin without installing it
sys.path.insert(0, osp.abspath(osp.join(osp.dirname(__file__), '..')))

from mmengine.config import Config  # noqa: E402
from mmengine.runner import Runner  # noqa: E402

import pmnet_plugin  # noqa: E402,F401  (registers components; torch>=2.6 checkpoint fix)
from pmnet_plugin.apis.checkpoint import find_resumable_checkpoint, read_checkpoint  # noqa: E402
from pmnet_plugin.compat import close_distributed, setup_cpu_distributed  # noqa: E402
from pmnet_plugin.datasets.body_fingerprint_check import check_render_bodies  # noqa: E402
from pmnet_plugin.datasets.required_files import check_required_files  # noqa: E402
from pmnet_plugin.utils import cli  # noqa: E402
from pmnet_plugin.utils.cli import run_with_file_errors  # noqa: E402
from pmnet_plugin.utils.workdir_lock import FolderLock  # noqa: E402

NAN_GUARD_TYPES = ('NaNGuardHook', 'mmpose.NaNGuardHook')


def parse_args(argv=None) -> argparse.Namespace:
    """Parses the command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description='Train a pmnet_plugin mesh model')
    parser.add_argument('config', help='train config file path')
    parser.add_argument(
        '--resume', nargs='?', type=str, const='auto',
        help='resume from the given checkpoint, or from the latest one in work-dir if no path is given')
    parser.add_argument('--amp', action='store_true', help='enable automatic mixed precision training')
    parser.add_argument(
        '--amp-dtype', choices=['float16', 'bfloat16'], default=None,
        help='AMP dtype (default: float16 with a dynamic loss scale; bfloat16 needs no loss scale)')
    parser.add_argument('--no-validate', action='store_true', help='do not evaluate during training')
    parser.add_argument(
        '--auto-scale-lr', action='store_true',
        help="scale the learning rate by the total batch size / the config's auto_scale_lr.base_batch_size")
    parser.add_argument(
        '--no-nan-guard', action='store_true',
        help="remove the config's NaNGuardHook (the shipped configs have it in custom_hooks)")
    cli.add_runner_args(parser)
    return cli.set_local_rank(parser.parse_args(argv))


def _apply_train_args(cfg: Config, args: argparse.Namespace) -> None:
    """``--amp``/``--amp-dtype``, ``--resume``, ``--auto-scale-lr``, ``--no-validate``, ``--no-nan-guard``."""
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

    if args.auto_scale_lr:
        if 'base_batch_size' not in cfg.get('auto_scale_lr', {}):
            raise ValueError('--auto-scale-lr needs auto_scale_lr.base_batch_size in the config')
        cfg.auto_scale_lr.enable = True

    if args.no_validate:
        cfg.val_cfg = None
        cfg.val_dataloader = None
        cfg.val_evaluator = None

    if args.no_nan_guard:
        cfg.custom_hooks = [h for h in cfg.get('custom_hooks', None) or []
                            if h.get('type') not in NAN_GUARD_TYPES]


def merge_args(cfg: Config, args: argparse.Namespace) -> Config:
    """Applies the command line to ``cfg`` (:func:`pmnet_plugin.utils.cli.merge_args`)."""
    return cli.merge_args(cfg, args, _apply_train_args)


def resolve_resume(cfg: Config, required: bool = False) -> None:
    """With ``resume`` and no checkpoint given, points ``load_from`` at the newest one that loads.

    MMEngine would take the one named in ``work_dir/last_checkpoint`` even when it is truncated; see
    ``pmnet_plugin.apis.checkpoint``. A given checkpoint (``--resume FILE`` or ``load_from``) that does not
    load is an error naming it, before the Runner is built (MMEngine's would print torch's advice).
    ``required`` (``--resume`` on the command line): a work dir without a checkpoint is an error too, where
    MMEngine would train from scratch.
    """
    if not cfg.get('resume', False):
        if cfg.get('load_from', None) is not None and '://' not in cfg.load_from:
            read_checkpoint(cfg.load_from)
        return
    if cfg.get('load_from', None) is None:
        cfg.load_from = find_resumable_checkpoint(cfg.work_dir)
        if cfg.load_from is None and required:
            state = 'does not exist' if not osp.isdir(cfg.work_dir) else 'holds no checkpoint (*.pth)'
            raise FileNotFoundError(f'--resume: the work dir {cfg.work_dir} {state}, so there is nothing to '
                                    'resume. Check --work-dir, or drop --resume to train from scratch.')
    else:
        read_checkpoint(cfg.load_from)


def main(argv=None) -> Runner:
    """Builds the Runner from the config, trains and returns the Runner."""
    args = parse_args(argv)
    cfg = merge_args(Config.fromfile(args.config), args)
    resolve_resume(cfg, required=args.resume == 'auto')  # before the lock: a mistyped dir is not created
    cli.check_work_dir(cfg)
    check_render_bodies(cfg, 'train')  # renders of another body model: exit 2 before anything is built
    check_required_files(cfg, 'train')  # missing data or body model: exit 2 naming each file, nothing built
    lock = FolderLock(cfg.work_dir, 'work dir', 'Wait for that run to end, or choose another --work-dir.')
    if int(os.environ.get('RANK', '0')) == 0:  # one lock per run: rank 0 holds it for every rank
        lock.acquire()
    try:
        setup_cpu_distributed(cfg)  # torchrun on a machine without CUDA: gloo, DDP without device ids
        runner = Runner.from_cfg(cfg)
        runner.train()
        close_distributed()
    finally:
        lock.release()
    return runner


if __name__ == '__main__':
    sys.exit(run_with_file_errors(main))
