"""Resume candidates: last_checkpoint's first, then by number; the newest that loads wins."""
import os

import pytest
import torch

from pmnet_plugin.apis.checkpoint import checkpoint_candidates, find_resumable_checkpoint
from pmnet_plugin.utils.safe_pickle import DataFileError


def _save(path, it):
    torch.save(dict(state_dict={'w': torch.full((64, ), float(it))}, meta=dict(iter=it)), str(path))


def test_candidates_order(tmp_path):
    assert checkpoint_candidates(str(tmp_path / 'absent')) == []
    for it in (2, 10, 9):
        _save(tmp_path / f'iter_{it}.pth', it)
    _save(tmp_path / 'best_mpjpe_iter_9.pth', 9)
    (tmp_path / 'notes.txt').write_text('x')
    names = [os.path.basename(p) for p in checkpoint_candidates(str(tmp_path))]
    assert names[0] == 'iter_10.pth' and names[3:] == ['iter_2.pth']  # by number, not by name
    assert set(names[1:3]) == {'iter_9.pth', 'best_mpjpe_iter_9.pth'}  # same number: newest file first
    (tmp_path / 'last_checkpoint').write_text('iter_2.pth')  # relative to the work dir
    assert os.path.basename(checkpoint_candidates(str(tmp_path))[0]) == 'iter_2.pth'


def test_newest_that_loads(tmp_path, capsys):
    assert find_resumable_checkpoint(str(tmp_path)) is None
    _save(tmp_path / 'iter_1.pth', 1)
    _save(tmp_path / 'iter_2.pth', 2)
    (tmp_path / 'last_checkpoint').write_text(str(tmp_path / 'iter_2.pth'))
    assert find_resumable_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_2.pth')
    (tmp_path / 'iter_2.pth').write_bytes(b'')
    assert find_resumable_checkpoint(str(tmp_path)) == str(tmp_path / 'iter_1.pth')
    (tmp_path / 'iter_1.pth').write_bytes(b'PK\x03\x04 cut')
    with pytest.raises(DataFileError, match=r'no checkpoint in .* can be loaded: .*iter_2\.pth: cannot '
                       r'read a PyTorch checkpoint \(empty file.*iter_1\.pth'):
        find_resumable_checkpoint(str(tmp_path))
