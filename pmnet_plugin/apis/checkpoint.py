"""Reading a checkpoint with errors that name the file, strict checks that it fits the model, and the
checkpoint to resume from.

MMEngine's ``load_checkpoint`` is not strict: a checkpoint of another head loads with warnings and the
model predicts from a partly random head. :func:`check_checkpoint_fits` compares every key and shape and
says which head the checkpoint holds and which the config builds. MMEngine's ``resume=True`` fails on a
truncated ``last_checkpoint``; :func:`find_resumable_checkpoint` returns the newest checkpoint that loads
(``docs/reliability.md``). Saving is ``AtomicCheckpointHook``'s.
"""
import ast
import logging
import os
import os.path as osp
import pickle
import re
import zipfile
from typing import Dict, List, Optional, Tuple

import torch
from mmengine.logging import print_log
from torch import nn

from pmnet_plugin.utils.paths import relative_path_hint
from pmnet_plugin.utils.safe_pickle import DataFileError, unreadable_file_message

__all__ = [
    'CheckpointMismatchError', 'read_checkpoint', 'checkpoint_head', 'model_head',
    'compare_state_dict', 'check_checkpoint_fits', 'load_model_checkpoint', 'checkpoint_candidates',
    'find_resumable_checkpoint'
]

OPT_OUT = ('--no-strict in tools/test.py and tools/demo.py, strict=False in init_mesh_model')
CHECKPOINT_FIX = ('Use another checkpoint of the same run (the *.pth files of its work_dir) or save it '
                  'again.')


class CheckpointMismatchError(RuntimeError):
    """The checkpoint's keys or shapes do not match the model built from the config."""


_REFUSED_GLOBAL = re.compile(r'Unsupported global: GLOBAL ([\w.]+)')


def _check_container(path: str) -> None:
    """Raises :class:`DataFileError` unless ``path`` starts like a checkpoint: a zip archive (``torch.save``
    since torch 1.6) or a pickle (the legacy format), so that text or random bytes are not blamed on
    refused Python objects."""
    with open(path, 'rb') as f:
        head = f.read(4)
    if head.startswith(b'PK') or head[:1] == b'\x80':
        return
    if not head:
        err = ValueError('the file is empty')
    else:
        what = 'text' if all(32 <= b < 127 or b in (9, 10, 13) for b in head) else 'other bytes'
        err = ValueError(f'it starts with {head!r} ({what}), not with a zip archive or a pickle')
    raise DataFileError(unreadable_file_message(path, err, 'a PyTorch checkpoint', CHECKPOINT_FIX))


def read_checkpoint(path: str, map_location: str = 'cpu') -> Dict:
    """Loads a checkpoint file with MMEngine's loader; errors name the file and say what to do.

    Args:
        path (str): A ``.pth`` file (local path or a URL MMEngine can open).
        map_location (str): Passed to ``torch.load``. Defaults to ``'cpu'``.

    Returns:
        dict: The checkpoint (``state_dict``, ``meta``, ...).

    Raises:
        FileNotFoundError: No such local file.
        DataFileError: The file is empty, truncated or not a checkpoint, or ``torch.load`` refused a
            global in it (nothing was run).
    """
    from mmengine.runner.checkpoint import _load_checkpoint
    is_url = '://' in path
    if not is_url and not osp.isfile(path):
        raise FileNotFoundError(f'checkpoint {path!r} does not exist. {relative_path_hint(path)}Pass a .pth '
                                'saved by tools/train.py (work_dirs/<config name>/iter_*.pth or epoch_*.pth).')
    if not is_url:
        _check_container(path)
    try:
        ckpt = _load_checkpoint(path, map_location=map_location)
    except pickle.UnpicklingError as err:
        refused = _REFUSED_GLOBAL.search(str(err))
        if refused is None:  # damaged bytes that the weights-only unpickler could not parse
            raise DataFileError(unreadable_file_message(path, err, 'a PyTorch checkpoint',
                                                        CHECKPOINT_FIX)) from err
        raise DataFileError(
            f'{path}: torch.load refused this checkpoint: it holds Python objects outside the '
            f'allow-list of weights-only loading ("{refused.group(1)}"; nothing was run). '
            'Use a checkpoint saved by tools/train.py.') from None
    except (RuntimeError, EOFError, ValueError, KeyError, IndexError, zipfile.BadZipFile, OSError) as err:
        if isinstance(err, (FileNotFoundError, PermissionError)):
            raise
        raise DataFileError(unreadable_file_message(path, err, 'a PyTorch checkpoint',
                                                    CHECKPOINT_FIX)) from err
    if not isinstance(ckpt, dict):
        raise DataFileError(f'{path}: expected a checkpoint dict, found {type(ckpt).__name__}. '
                            f'{CHECKPOINT_FIX}')
    return ckpt


def _state_dict(ckpt: Dict) -> Dict[str, torch.Tensor]:
    """The checkpoint's weights with a DDP ``module.`` prefix removed (as MMEngine does)."""
    sd = ckpt.get('state_dict', ckpt)
    return {(k[len('module.'):] if k.startswith('module.') else k): v for k, v in sd.items()}


def _literal_kwargs(call: ast.AST) -> Dict[str, ast.AST]:
    """``dict(a=..)`` / ``{'a': ..}`` AST node -> ``{name: value node}`` (empty for anything else)."""
    if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == 'dict':
        return {kw.arg: kw.value for kw in call.keywords if kw.arg}
    if isinstance(call, ast.Dict):
        return {k.value: v for k, v in zip(call.keys, call.values)
                if isinstance(k, ast.Constant) and isinstance(k.value, str)}
    return {}


def _head_from_config_text(text: str) -> Optional[Tuple[str, Optional[int]]]:
    """``(head type, num_prototypes or None)`` from a config's text, parsed (not run) with :mod:`ast`."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return None
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == 'model' for t in node.targets):
            head = _literal_kwargs(_literal_kwargs(node.value).get('head'))
            head_type = head.get('type')
            if isinstance(head_type, ast.Constant) and isinstance(head_type.value, str):
                k = head.get('num_prototypes')
                k = k.value if isinstance(k, ast.Constant) and isinstance(k.value, int) else None
                return head_type.value, k
    return None


def checkpoint_head(ckpt: Dict) -> str:
    """Describes the head a checkpoint holds, e.g. ``'PrototypeMemoryHead with K=8 (from its stored
    config)'``; from the buffers when the checkpoint has no config."""
    cfg_text = (ckpt.get('meta') or {}).get('cfg')
    found = _head_from_config_text(cfg_text) if isinstance(cfg_text, str) else None
    if found is not None:
        head_type, k = found
        return f'{head_type}{f" with K={k}" if k is not None else ""} (from its stored config)'
    sd = _state_dict(ckpt)
    counts = sd.get('head.proto_counts')
    if counts is not None:
        return f'a prototype-memory head with K={counts.shape[0]} (from its buffer head.proto_counts)'
    if any(k.startswith('head.') for k in sd):
        return 'a head without a prototype memory, HMRHead-like (from its buffers: no head.proto_*)'
    return 'no head weights (no head.* keys: a backbone-only or foreign checkpoint)'


def model_head(model: nn.Module) -> str:
    """Describes the head the config built, e.g. ``'PrototypeMemoryHead with K=32'``."""
    head = getattr(model, 'head', None)
    if head is None:
        return f'{type(model).__name__} (no head)'
    k = getattr(head, 'num_prototypes', None)
    return f'{type(head).__name__}{f" with K={k}" if k is not None else ""}'


def compare_state_dict(model: nn.Module, ckpt: Dict) -> Dict[str, List[str]]:
    """Keys missing from / unexpected in the checkpoint, and keys whose shapes differ.

    Args:
        model (nn.Module): The model (unwrapped).
        ckpt (dict): A checkpoint (with ``state_dict``) or a bare state dict.

    Returns:
        dict: ``missing``, ``unexpected`` (sorted key lists) and ``mismatched`` (``'key: checkpoint
        (a, b) vs model (c, d)'`` strings).
    """
    sd, own = _state_dict(ckpt), model.state_dict()
    mismatched = [f'{k}: checkpoint {tuple(sd[k].shape)} vs model {tuple(v.shape)}'
                  for k, v in own.items()
                  if k in sd and hasattr(sd[k], 'shape') and tuple(sd[k].shape) != tuple(v.shape)]
    return dict(missing=sorted(set(own) - set(sd)), unexpected=sorted(set(sd) - set(own)),
                mismatched=mismatched)


def _listing(keys: List[str], limit: int = 6) -> str:
    more = f', ... ({len(keys) - limit} more)' if len(keys) > limit else ''
    return f'{len(keys)} ({", ".join(keys[:limit])}{more})' if keys else '0'


def check_checkpoint_fits(model: nn.Module, ckpt: Dict, source: str, strict: bool = True,
                          logger: Optional[logging.Logger] = None) -> Dict[str, List[str]]:
    """Raises (``strict``) or warns when the checkpoint's keys or shapes differ from the model's.

    Args:
        model (nn.Module): The model built from the config (unwrapped).
        ckpt (dict): The loaded checkpoint.
        source (str): Checkpoint file name for the message.
        strict (bool): Raise :class:`CheckpointMismatchError` instead of warning. Defaults to True.
        logger (logging.Logger, optional): Where the warning goes (else MMEngine's current logger).

    Returns:
        dict: The :func:`compare_state_dict` result (all lists empty when it fits).
    """
    diff = compare_state_dict(model, ckpt)
    if not any(diff.values()):
        return diff
    msg = (f'checkpoint {source} does not fit the model: it holds {checkpoint_head(ckpt)}, the config '
           f'builds {model_head(model)}. Missing from the checkpoint: {_listing(diff["missing"])}; '
           f'unexpected in it: {_listing(diff["unexpected"])}; shape mismatch: '
           f'{_listing(diff["mismatched"], 4)}.')
    if strict:
        raise CheckpointMismatchError(
            f'{msg} Use the config this checkpoint was trained with (its text is stored in the '
            f"checkpoint's meta['cfg']), or load it anyway with {OPT_OUT} (the unmatched weights "
            'then keep their random initialisation and the results are not those of a trained model).')
    from mmengine.logging import print_log
    print_log(f'{msg} Loading non-strictly as asked: the unmatched weights keep their random '
              'initialisation, so the results are not those of a trained model.',
              logger=logger or 'current', level=logging.WARNING)
    return diff


def load_model_checkpoint(model: nn.Module, path: str, strict: bool = True, map_location: str = 'cpu',
                          logger: Optional[logging.Logger] = None) -> Dict:
    """:func:`read_checkpoint` + :func:`check_checkpoint_fits` + MMEngine's loading into ``model``.

    Args:
        model (nn.Module): The model (unwrapped).
        path (str): Checkpoint file.
        strict (bool): See :func:`check_checkpoint_fits`. Defaults to True.
        map_location (str): Defaults to ``'cpu'``.
        logger (logging.Logger, optional): For the non-strict warning.

    Returns:
        dict: The checkpoint.
    """
    from mmengine.runner.checkpoint import _load_checkpoint_to_model
    ckpt = read_checkpoint(path, map_location)
    check_checkpoint_fits(model, ckpt, path, strict, logger)
    _load_checkpoint_to_model(model, ckpt, strict=False)
    return ckpt


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
