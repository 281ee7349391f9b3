"""MMEngine's ``CheckpointHook`` with checkpoints written whole or not at all, old ones removed afterwards."""
import glob
import os
import os.path as osp
import shutil
from typing import Any, Callable, Dict, List

from mmengine.dist import is_main_process
from mmengine.fileio.backends import LocalBackend
from mmengine.hooks import CheckpointHook
from mmpose.registry import HOOKS

from pmnet_plugin.utils.atomic_io import OutputWriteError, atomic_write

PART_SUFFIX = '.part'


def _fsync(path: str) -> None:
    """Flushes ``path`` to the disk, so that a rename after it cannot expose a file the disk lacks."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _DeferredRemoval:
    """A file backend whose ``remove``/``rmtree`` only record the path (to remove it after a new save)."""

    def __init__(self, backend, removed: List[str]) -> None:
        self._backend, self._removed = backend, removed

    def remove(self, path: str) -> None:
        self._removed.append(path)

    def rmtree(self, path: str) -> None:
        self._removed.append(path)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._backend, name)


def _text_writer(text: str):
    def write(path: str) -> None:
        with open(path, 'w') as f:
            f.write(text)
    return write


@HOOKS.register_module()
class AtomicCheckpointHook(CheckpointHook):
    """``CheckpointHook`` whose checkpoints survive a run killed while saving.

    Each checkpoint (and ``last_checkpoint``) is written to ``<name>.part``, flushed and renamed onto its
    name; only then are old checkpoints removed, so the newest complete one always remains
    (``docs/reliability.md``). ``.part`` files of a killed run are removed when training starts. On a
    non-local storage backend it saves as ``CheckpointHook`` does.

    Args:
        **kwargs: The arguments of MMEngine's ``CheckpointHook``.

    Raises:
        OutputWriteError: A checkpoint cannot be written (disk full, quota); earlier ones are kept.
    """

    _local = False  # set in before_train: the checkpoints go to a local folder

    def before_train(self, runner) -> None:
        """MMEngine's set-up, then removes ``*.pth.part`` files of a run killed while saving."""
        super().before_train(runner)
        self._local = isinstance(self.file_backend, LocalBackend)
        if not self._local or not is_main_process():
            return
        for part in glob.glob(osp.join(glob.escape(self.out_dir), '*' + PART_SUFFIX)):
            os.remove(part)
            runner.logger.warning(f'removed {part}: an incomplete checkpoint of an interrupted save')

    def _save_whole(self, save: Callable, previous: str, out_dir: str, filename: str, *args,
                    **kwargs) -> None:
        """``save(out_dir, <filename>.part, ...)`` (``Runner.save_checkpoint``), flushed and renamed onto
        ``filename``; a failed write raises ``OutputWriteError`` naming it and ``previous``, the kept one."""
        final = osp.join(out_dir, filename)
        part = final + PART_SUFFIX
        try:
            save(out_dir, filename + PART_SUFFIX, *args, **kwargs)
            if is_main_process():
                _fsync(part)
                os.replace(part, final)
        except OSError as err:
            if osp.exists(part):
                os.remove(part)
            kept = (f'the previous checkpoint {previous} is kept' if previous and osp.isfile(previous)
                    else 'no earlier checkpoint exists')
            raise OutputWriteError(
                f'cannot write checkpoint {final}: {getattr(err, "strerror", None) or err}. Nothing was left '
                f'under that name; {kept}. Free disk space in {out_dir} (or train with another --work-dir), '
                'then resume with tools/train.py CONFIG --resume.') from err

    def _save_checkpoint_with_step(self, runner, step: int, meta: Dict[str, Any]) -> None:
        """Saves checkpoint ``step`` atomically, then updates ``last_checkpoint``, then prunes old ones."""
        if not self._local:
            return super()._save_checkpoint_with_step(runner, step, meta)
        stale = []
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and self.keep_ckpt_ids[-1] == step):
            while len(self.keep_ckpt_ids) >= self.max_keep_ckpts:
                stale.append(self.keep_ckpt_ids.popleft())
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids', list(self.keep_ckpt_ids))
        filename = self.filename_tmpl.format(step)
        previous = runner.message_hub.get_info('last_ckpt')  # restored on resume
        self.last_ckpt = osp.join(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        save = type(runner).save_checkpoint.__get__(runner)  # the Runner's own, also inside a best save
        self._save_whole(save, previous, self.out_dir, filename, self.file_client_args,
                         save_optimizer=self.save_optimizer, save_param_scheduler=self.save_param_scheduler,
                         meta=meta, by_epoch=self.by_epoch, backend_args=self.backend_args, **self.args)
        if not is_main_process():
            return
        atomic_write(osp.join(runner.work_dir, 'last_checkpoint'), _text_writer(self.last_ckpt),
                     f'Free disk space in {runner.work_dir}.')
        for old in stale:
            path = osp.join(self.out_dir, self.filename_tmpl.format(old))
            if osp.isfile(path):
                os.remove(path)

    def _save_best_checkpoint(self, runner, metrics: Dict[str, Any]) -> None:
        """MMEngine's best-checkpoint logic with the new best written whole and the previous best removed
        after it (MMEngine's removals are deferred, its save goes through :meth:`_save_whole`)."""
        if not self.save_best:  # MMEngine sets no best_ckpt_path then
            return
        if not self._local:
            return super()._save_best_checkpoint(runner, metrics)
        backend, removed = self.file_backend, []
        previous = getattr(self, 'best_ckpt_path', None)
        save = runner.save_checkpoint
        self.file_backend = _DeferredRemoval(backend, removed)
        runner.save_checkpoint = lambda *args, **kwargs: self._save_whole(save, previous, *args, **kwargs)
        try:
            super()._save_best_checkpoint(runner, metrics)
        finally:
            del runner.save_checkpoint  # the Runner's method again
            self.file_backend = backend
        current = {getattr(self, 'best_ckpt_path', None), *getattr(self, 'best_ckpt_path_dict', {}).values()}
        for path in removed:
            if path in current or not is_main_process():
                continue
            if osp.isfile(path):
                os.remove(path)
            elif osp.isdir(path):
                shutil.rmtree(path)
