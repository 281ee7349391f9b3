"""Fixtures of the fault tests: the tiny rendered dataset of ``tests/test_tools/test_train_test.py``
(``synth``) and the ``error:`` line a tool printed."""
import os.path as osp
import sys

import pytest

TESTS = osp.dirname(osp.dirname(osp.abspath(__file__)))
# the fault tests import tools/*.py and the fixtures of tests/test_tools/test_train_test.py by name
sys.path.insert(0, osp.join(osp.dirname(TESTS), 'tools'))
sys.path.insert(0, osp.join(TESTS, 'test_tools'))
from test_train_test import synth  # noqa: E402,F401


@pytest.fixture
def error_line(capsys):
    """``read()`` -> the one ``error:`` line a tool printed to stderr (library warnings may come before it)."""

    def read() -> str:
        stderr = capsys.readouterr().err
        lines = [line for line in stderr.splitlines() if line.startswith('error: ')]
        assert len(lines) == 1, stderr[-3000:]
        return lines[0]

    return read
