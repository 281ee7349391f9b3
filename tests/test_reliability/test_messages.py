"""Messages that say what is wrong with the file, and exit statuses that follow docs/reliability.md.

- a checkpoint of random bytes or text is "not a PyTorch checkpoint" (not "Python objects outside the
  allow-list", not ``KeyError: 101``);
- ``load_from`` with a checkpoint that holds a refused global: exit 2 naming the global, without torch's
  advice to load it with ``weights_only=False``;
- a relative data path that exists under the repository root, from another directory: run from the root;
- a crafted pose source in tools/build_prototypes.py: one ``error:`` line, exit 2.
"""
import os
import os.path as osp
import sys

import numpy as np
import pytest
import torch

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(ROOT, 'tools'))
import build_prototypes as build_tool  # noqa: E402  (tools/build_prototypes.py)
import train as train_tool  # noqa: E402  (tools/train.py)

from pmnet_plugin.apis.checkpoint import read_checkpoint  # noqa: E402
from pmnet_plugin.utils.cli import run_with_file_errors  # noqa: E402
from pmnet_plugin.utils.safe_pickle import DataFileError  # noqa: E402

PMNET = osp.join(ROOT, 'configs', 'pmnet_res18-w32_1xb16-300it_synthetic-96x96.py')


class RunsCode:
    """Unpickling this would create ``marker`` (a crafted file's ``__reduce__``)."""

    def __init__(self, marker) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f'open({self.marker!r}, "w").write("code ran")', )


@pytest.mark.parametrize('content, kind', [(os.urandom(4096), 'other bytes'),
                                           (b'epoch 10, loss 0.1\n' * 50, 'text')])
def test_a_checkpoint_that_is_not_one_is_named_as_such(tmp_path, content, kind):
    path = tmp_path / 'model.pth'
    path.write_bytes(b'\x01' + content if kind == 'other bytes' else content)  # never a zip/pickle start
    with pytest.raises(DataFileError) as err:
        read_checkpoint(str(path))
    msg = str(err.value)
    assert msg.startswith(f'{path}: cannot read a PyTorch checkpoint ({len(path.read_bytes())} bytes; ValueError')
    assert f'({kind}), not with a zip archive or a pickle' in msg
    assert 'allow-list' not in msg and 'KeyError' not in msg


def test_load_from_a_refused_checkpoint_exits_2_without_torchs_advice(tmp_path, error_line):
    marker = tmp_path / 'ran'
    crafted = str(tmp_path / 'crafted.pth')
    torch.save(dict(state_dict={}, meta=dict(x=RunsCode(marker))), crafted)
    argv = [PMNET, '--work-dir', str(tmp_path / 'work'), '--cfg-options', f'load_from={crafted}']
    assert run_with_file_errors(train_tool.main, argv) == 2
    err = error_line()
    assert err.startswith(f'error: {crafted}: torch.load refused this checkpoint')
    assert '("exec"; nothing was run)' in err  # the global the file names
    assert 'weights_only=False' not in err
    assert not marker.exists()


def test_relative_path_from_another_directory_says_where_to_run(tmp_path, monkeypatch, body_model_files):
    from pmnet_plugin.models.body_models.smpl_io import load_smpl_model_file
    from pmnet_plugin.prototypes.io import load_prototypes
    from pmnet_plugin.utils import paths
    repo = tmp_path / 'repo'
    (repo / 'data' / 'smpl').mkdir(parents=True)
    (repo / 'data' / 'smpl' / 'SMPL_NEUTRAL.pkl').write_bytes(open(body_model_files['model_path'], 'rb').read())
    (repo / 'data' / 'protos.npz').write_bytes(b'')
    elsewhere = tmp_path / 'elsewhere'
    elsewhere.mkdir()
    monkeypatch.setattr(paths, 'REPO_ROOT', str(repo))
    monkeypatch.chdir(elsewhere)
    with pytest.raises(FileNotFoundError) as err:
        load_smpl_model_file('data/smpl/SMPL_NEUTRAL.pkl')
    hint = f'is relative to the current directory {elsewhere}, but exists under the repository root {repo}'
    assert hint in str(err.value) and f'run the tool from {repo}' in str(err.value)
    with pytest.raises(FileNotFoundError, match=f'data/protos.npz {hint}'):
        load_prototypes('data/protos.npz')
    with pytest.raises(FileNotFoundError) as err:  # missing everywhere: no such hint
        load_smpl_model_file('data/smpl/SMPL_MALE.pkl')
    assert 'repository root' not in str(err.value) and 'To obtain it' in str(err.value)


def test_crafted_pose_source_in_build_prototypes_exits_2(tmp_path, error_line):
    marker = tmp_path / 'ran'
    evil = str(tmp_path / 'poses.npz')
    np.savez(evil, poses=np.zeros((8, 72), np.float32), betas=np.array(RunsCode(marker), dtype=object))
    out = tmp_path / 'protos.npz'
    assert run_with_file_errors(build_tool.main, ['--poses', evil, '--k', '2', '--out', str(out)]) == 2
    assert error_line().startswith(f"error: {evil} (entry 'betas'): refused to load \"builtins.exec\"")
    assert not marker.exists() and not out.exists()
