"""What ``tools/train.py`` and ``tools/test.py`` share: the Runner's arguments, their merge into the config,
and :func:`run_with_file_errors`, which ends a tool with one ``error:`` line (exit 2 or 3).

``--cfg-options`` is checked before anything runs (:mod:`.cfg_options`): a token that is not ``key=value`` is
named, and a key that exists nowhere in the config is refused with the nearest existing key, unless
``--allow-new-cfg-keys``.
"""
import argparse
import os
import os.path as osp
import sys
from typing import Callable, Optional, Sequence

from .atomic_io import OutputWriteError, check_writable
from .cfg_options import ArgumentCheckError, CfgOptionsAction, check_cfg_option_keys
from .safe_pickle import DataFileError, UnsafePickleError

__all__ = ['add_runner_args', 'set_local_rank', 'merge_args', 'check_work_dir', 'run_with_file_errors',
           'ArgumentCheckError']


def add_runner_args(parser: argparse.ArgumentParser) -> None:
    """Adds ``--work-dir``, ``--cfg-options``, ``--launcher`` and ``--local-rank`` (MMPose's tools have them)."""
    parser.add_argument('--work-dir', help='the directory to save logs, models and evaluation results')
    parser.add_argument(
        '--cfg-options', nargs='+', action=CfgOptionsAction,
        help='override config settings, key=value pairs, e.g. train_cfg.max_iters=10')
    parser.add_argument(
        '--allow-new-cfg-keys', action='store_true',
        help='let --cfg-options add keys the config does not have (refused by default: a typo would be '
        'ignored or fail late)')
    parser.add_argument(
        '--launcher', choices=['none', 'pytorch', 'slurm', 'mpi'], default='none', help='job launcher')
    # torch.distributed.launch passes --local-rank since torch 2.0
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)


def set_local_rank(args: argparse.Namespace) -> argparse.Namespace:
    """Exports ``--local-rank`` as ``LOCAL_RANK`` unless a launcher set it."""
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def merge_args(cfg, args: argparse.Namespace, *steps: Callable):
    """Applies the command line to ``cfg``: launcher and work dir, each ``step(cfg, args)``, ``--cfg-options``.

    The work dir is ``--work-dir``, else the config's, else ``./work_dirs/<config file name>``.

    Args:
        cfg (mmengine.Config): The config, changed in place.
        args (argparse.Namespace): Parsed by a parser with :func:`add_runner_args` and a ``config`` argument.
        *steps (Callable): ``step(cfg, args)`` of the tool.

    Returns:
        mmengine.Config: ``cfg``.
    """
    cfg.launcher = args.launcher
    if args.work_dir is not None:
        cfg.work_dir = args.work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs', osp.splitext(osp.basename(args.config))[0])
    for step in steps:
        step(cfg, args)
    if args.cfg_options is not None:
        if not getattr(args, 'allow_new_cfg_keys', False):
            check_cfg_option_keys(cfg, args.cfg_options)
        cfg.merge_from_dict(args.cfg_options)
    return cfg


def check_work_dir(cfg) -> None:
    """Raises :class:`OutputWriteError` (exit 3) before the Runner starts when ``cfg.work_dir`` is not writable."""
    check_writable(osp.join(cfg.work_dir, 'last_checkpoint'), 'the work dir',
                   f'Choose another --work-dir (now {cfg.work_dir}).')


def _file_errors() -> tuple:
    from pmnet_plugin.apis.checkpoint import CheckpointMismatchError
    from pmnet_plugin.datasets.body_fingerprint_check import BodyModelMismatchError
    from pmnet_plugin.datasets.humandata import AnnotationError
    from pmnet_plugin.datasets.image_checks import BadTestImageError
    from pmnet_plugin.prototypes.geometry import MissingPrototypesError
    from pmnet_plugin.prototypes.io import PrototypeFileMismatchError
    return (ArgumentCheckError, CheckpointMismatchError, DataFileError, FileNotFoundError, UnsafePickleError,
            PrototypeFileMismatchError, MissingPrototypesError, AnnotationError, BadTestImageError,
            BodyModelMismatchError)


def run_with_file_errors(main: Callable, argv: Optional[Sequence[str]] = None) -> int:
    """Runs ``main(argv)``; file faults -> exit 2, outputs that cannot be written -> exit 3.

    File faults are missing, unsafe, damaged or mismatched input files (``docs/reliability.md``, "Exit
    statuses"); their messages name the file and the fix, so no traceback is printed.

    Args:
        main (Callable): A tool's ``main(argv)``, or ``main()`` when ``argv`` is None.
        argv (Sequence[str], optional): Its arguments (``None``: ``sys.argv``).

    Returns:
        int: ``main``'s return value when it is an int, else 0; 2 or 3 after such an error (printed to
        stderr as ``error: <message>``).
    """
    try:
        result = main() if argv is None else main(argv)
    except OutputWriteError as err:
        print(f'error: {err}', file=sys.stderr)
        return 3
    except _file_errors() as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    return result if isinstance(result, int) and not isinstance(result, bool) else 0
