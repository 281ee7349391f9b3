"""One run per folder: a lock file held with ``fcntl.flock`` for as long as the run lives.

Two trainings on one work dir prune and overwrite each other's checkpoints; two quickstarts on one data
folder render into each other. :class:`FolderLock` takes an exclusive lock on ``<folder>/.pmnet_run.lock``
and writes the holder's PID and command into it. The kernel drops the lock when the process ends, however it
ends, so a lock file left by a killed run is taken over (with a warning naming the dead holder); a live
holder makes the second run stop at once with :class:`FolderBusyError`, naming its PID and command.
"""
import fcntl
import os
import os.path as osp
import shlex
import sys
import warnings
from typing import Optional

from .atomic_io import OutputWriteError

__all__ = ['FolderBusyError', 'FolderLock', 'LOCK_NAME']

LOCK_NAME = '.pmnet_run.lock'


class FolderBusyError(OutputWriteError):
    """Another running process holds the folder's lock (exit 3: the outputs cannot be written now)."""


def _this_command() -> str:
    return ' '.join(shlex.quote(a) for a in [osp.basename(sys.executable), *sys.argv])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class FolderLock:
    """Exclusive lock of one folder by this process (a context manager; :meth:`release` ends it).

    Args:
        folder (str): The folder; created if missing.
        what (str): What the folder is, for messages (e.g. ``'work dir'``).
        fix (str): What to do when it is busy, for the error message.
        command (str, optional): This run's command line, written into the lock file. Defaults to
            ``sys.argv``.
    """

    def __init__(self, folder: str, what: str = 'folder', fix: str = 'Wait for it, or choose another folder.',
                 command: Optional[str] = None) -> None:
        self.folder, self.what, self.fix = folder, what, fix
        self.path = osp.join(folder, LOCK_NAME)
        self.command = command or _this_command()
        self._fd = None

    def acquire(self) -> 'FolderLock':
        """Takes the lock or raises :class:`FolderBusyError` naming the holder."""
        os.makedirs(self.folder, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 4096).decode(errors='replace').strip() or 'a process that has not written it yet'
            os.close(fd)
            raise FolderBusyError(f'the {self.what} {self.folder} is in use by another run ({holder}): two runs '
                                  f'in one {self.what} overwrite each other\'s files, so this one stops before '
                                  f'writing anything. {self.fix}') from None
        previous = os.read(fd, 4096).decode(errors='replace').strip()
        pid = previous.split(' ', 2)[1] if previous.startswith('PID ') else ''
        if pid.isdigit() and int(pid) != os.getpid():
            state = 'which is still running but no longer holds it' if _alive(int(pid)) else 'which has ended'
            warnings.warn(f'{self.path}: taking over the lock of {previous} ({state}); its outputs in '
                          f'{self.folder} may be incomplete.', stacklevel=2)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f'PID {os.getpid()} running: {self.command}\n'.encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        """Empties the lock file and drops the lock (the file stays: removing it would race a waiter)."""
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, 0)
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> 'FolderLock':
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
