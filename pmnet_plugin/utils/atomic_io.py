"""Writing outputs whole or not at all, and checking that an output can be written before the work.

:func:`atomic_write` writes to a temporary file in the same folder and renames it onto the final name, so
a reader sees the old file or the new one, never a truncated one; :func:`check_writable` lets a tool fail
before a long run whose results it could not save.
"""
import errno
import os
import os.path as osp
import sys
import tempfile
from typing import Callable

__all__ = ['OutputWriteError', 'atomic_write', 'check_writable']

_UMASK = os.umask(0)
os.umask(_UMASK)


class OutputWriteError(OSError):
    """An output could not be written (disk full, quota, permissions); nothing is left under its name."""


def _write_errors() -> tuple:
    """``OSError``, and ``cv2.error`` when OpenCV is loaded (its writers raise it)."""
    cv2 = sys.modules.get('cv2')
    return (OSError, cv2.error) if cv2 is not None and hasattr(cv2, 'error') else (OSError, )


def atomic_write(path: str, write: Callable[[str], None],
                 fix: str = 'Free disk space or choose another output path.') -> None:
    """Calls ``write(tmp_path)`` then renames the temporary file onto ``path`` (same folder).

    Args:
        path (str): The final file name.
        write (Callable[[str], None]): Writes the whole output to the path it is given; raises on failure.
        fix (str): What to do after a failure, for the error message.

    Raises:
        OutputWriteError: The write or the rename failed; the temporary file was removed and ``path`` is
            untouched (an earlier file of that name is still there).
    """
    folder, name = osp.split(osp.abspath(path))
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f'.{name}.', suffix=osp.splitext(name)[1], dir=folder)
        os.close(fd)
        write(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600 files
        os.replace(tmp, path)
        tmp = None
    except OutputWriteError:
        raise
    except _write_errors() as err:
        reason = getattr(err, 'strerror', None) or str(err)
        raise OutputWriteError(f'cannot write {path}: {reason}. Nothing was left under that name '
                               f'(outputs are written to a temporary file, then renamed). {fix}') from err
    finally:
        if tmp is not None and osp.exists(tmp):
            os.remove(tmp)


def check_writable(path: str, what: str, fix: str) -> None:
    """Raises :class:`OutputWriteError` unless a file can be created next to ``path``.

    Creates the folder if needed and a temporary file in it (removed again); ``path`` itself is not
    touched.

    Args:
        path (str): An output file that will be written later.
        what (str): The option or role of the file, e.g. ``'--out'``.
        fix (str): What to do, for the error message.
    """
    folder = osp.dirname(osp.abspath(path))
    try:
        existing = folder
        while not osp.exists(existing):
            existing = osp.dirname(existing)
        if not osp.isdir(existing):
            raise NotADirectoryError(errno.ENOTDIR, f'{existing} is a file, not a folder')
        os.makedirs(folder, exist_ok=True)
        if osp.isdir(path):
            raise IsADirectoryError(21, 'it is a directory')
        fd, tmp = tempfile.mkstemp(prefix=f'.{osp.basename(path)}.', dir=folder)
        os.close(fd)
        os.remove(tmp)
    except OSError as err:
        reason = getattr(err, 'strerror', None) or str(err)
        raise OutputWriteError(f'cannot write {what} {path}: {reason} (checked before running, so no '
                               f'work is lost). {fix}') from err
