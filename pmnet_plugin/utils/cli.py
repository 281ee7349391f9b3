"""Command-line wrapper: a fault in an input file ends a tool with one ``error:`` line and exit status 2."""
import sys
from typing import Callable, Optional, Sequence

from .safe_pickle import DataFileError

__all__ = ['run_with_file_errors']


def _file_errors() -> tuple:
    from pmnet_plugin.apis.checkpoint import CheckpointMismatchError
    return (CheckpointMismatchError, DataFileError, FileNotFoundError)


def run_with_file_errors(main: Callable, argv: Optional[Sequence[str]] = None) -> int:
    """Runs ``main(argv)``; file faults (missing, unreadable, unsafe, not fitting the model) -> exit 2.

    Their messages already name the file, the fault and the fix, so no traceback is printed.

    Args:
        main (Callable): A tool's ``main(argv)``.
        argv (Sequence[str], optional): Its arguments (``None``: ``sys.argv``).

    Returns:
        int: 0 on success, 2 after such an error (printed to stderr as ``error: <message>``).
    """
    try:
        main(argv)
    except _file_errors() as err:
        print(f'error: {err}', file=sys.stderr)
        return 2
    return 0
