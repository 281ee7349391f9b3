"""Resuming from the newest checkpoint of a work dir that loads.

MMEngine's ``resume=True`` fails on a truncated ``last_checkpoint``; :func:`find_resumable_checkpoint`
tries the candidates newest first and returns the first that loads, logging the skipped ones
(``docs/reliability.md``).
"""
import logging
import os
import os.path as osp
import re
from typing import List, Optional, Tuple

from mmengine.logging import print_log

from pmnet_plugin.apis.checkpoint import read_checkpoint
from pmnet_plugin.utils.safe_pickle import DataFileError

__all__ = ['checkpoint_candidates', 'find_resumable_checkpoint']

_NUMBER = re.compile(r'(\d+)\.pth$')


def checkpoint_candidates(work_dir: str) -> List[str]:
    """Checkpoints of ``work_dir``, newest first: ``last_checkpoint``'s, then ``*.pth`` by number, mtime.

    Args:
        work_dir (str): A Runner's work dir.

    Returns:
        list[str]: Paths (no duplicates); empty when there are none.
    """
    if not osp.isdir(work_dir):
        return []
    found = []
    for name in os.listdir(work_dir):
        path = osp.join(work_dir, name)
        if name.endswith('.pth') and osp.isfile(path):
            match = _NUMBER.search(name)
            found.append((int(match.group(1)) if match else -1, osp.getmtime(path), path))
    ordered = [p for _, _, p in sorted(found, reverse=True)]
    marker = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(marker):
        with open(marker) as f:
            named = f.read().strip()
        if named:
            named = named if osp.isabs(named) or osp.isfile(named) else osp.join(work_dir, named)
            ordered = [named] + [p for p in ordered if osp.abspath(p) != osp.abspath(named)]
    return ordered


def find_resumable_checkpoint(work_dir: str, logger=None) -> Optional[str]:
    """The newest checkpoint of ``work_dir`` that ``torch.load`` reads; skipped ones are logged.

    Args:
        work_dir (str): A Runner's work dir.
        logger (optional): MMEngine logger or name; defaults to the current one.

    Returns:
        str | None: The checkpoint to resume from; None when the work dir has no checkpoint.

    Raises:
        DataFileError: Checkpoints exist but none of them loads (each is named with its error).
    """
    skipped: List[Tuple[str, str]] = []
    for path in checkpoint_candidates(work_dir):
        try:
            read_checkpoint(path)
        except (DataFileError, FileNotFoundError) as err:
            why = str(err)
            skipped.append((path, why[len(path) + 2:] if why.startswith(f'{path}: ') else why))
            continue
        if skipped:
            print_log(f'resuming from {path}, the newest checkpoint that loads; skipped '
                      + '; '.join(f'{p}: {why}' for p, why in skipped), logger=logger or 'current',
                      level=logging.WARNING)
        return path
    if skipped:
        raise DataFileError(f'no checkpoint in {work_dir} can be loaded: '
                            + '; '.join(f'{p}: {why}' for p, why in skipped)
                            + '. Start without --resume (or with --resume <a good .pth>).')
    return None
