"""Strict checkpoint checks: what a checkpoint holds (config text parsed, never run); errors name the file."""
import os.path as osp

import pytest
import torch
from mesh_model_setup import mesh_config

from pmnet_plugin.apis import CheckpointMismatchError, init_mesh_model
from pmnet_plugin.apis.checkpoint import checkpoint_head, compare_state_dict, read_checkpoint
from pmnet_plugin.utils.safe_pickle import DataFileError


class _RunsCode:
    """Pickles as ``exec(...)`` creating ``marker`` when unpickled."""

    def __init__(self, marker) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f'open({self.marker!r}, "w").write("ran")', )


def test_head_from_config_text_is_parsed_not_run(tmp_path):
    marker = tmp_path / 'ran'
    text = (f'import os\nos.system("touch {marker}")\n'
            "model = dict(type='TopdownMeshEstimator', head=dict(type='PrototypeMemoryHead', "
            'num_prototypes=8, in_channels=256))\n')
    assert checkpoint_head(dict(state_dict={}, meta=dict(cfg=text))) == \
        'PrototypeMemoryHead with K=8 (from its stored config)'
    assert not marker.exists()
    text = "model = {'head': {'type': 'HMRHead'}}"  # dict literals too
    assert checkpoint_head(dict(meta=dict(cfg=text))) == 'HMRHead (from its stored config)'


def test_head_from_buffers_without_config():
    pm = {'head.proto_counts': torch.zeros(8), 'head.selector.weight': torch.zeros(8, 4)}
    assert checkpoint_head(dict(state_dict=pm)) == \
        'a prototype-memory head with K=8 (from its buffer head.proto_counts)'
    assert 'HMRHead-like' in checkpoint_head({'module.head.init_cam': torch.zeros(1, 3)})  # DDP prefix
    assert 'no head weights' in checkpoint_head(dict(state_dict={'backbone.w': torch.zeros(1)}))


def test_compare_lists_missing_unexpected_and_shapes():
    model = torch.nn.Sequential(torch.nn.Linear(2, 3))
    diff = compare_state_dict(model, {'0.weight': torch.zeros(4, 2), 'extra': torch.zeros(1)})
    assert diff == dict(missing=['0.bias'], unexpected=['extra'],
                        mismatched=['0.weight: checkpoint (4, 2) vs model (3, 2)'])


def test_read_checkpoint_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"'.*nope\.pth' does not exist.*tools/train\.py"):
        read_checkpoint(str(tmp_path / 'nope.pth'))
    marker = tmp_path / 'ran'
    crafted = str(tmp_path / 'crafted.pth')
    torch.save(dict(state_dict={}, meta=dict(x=_RunsCode(marker))), crafted)
    with pytest.raises(DataFileError, match=r'crafted\.pth: torch\.load refused this checkpoint'):
        read_checkpoint(crafted)
    assert not marker.exists()
    good = str(tmp_path / 'good.pth')
    torch.save(dict(state_dict={'w': torch.zeros(1000)}), good)
    cut = tmp_path / 'cut.pth'
    cut.write_bytes(open(good, 'rb').read()[:2000])
    with pytest.raises(DataFileError, match=rf'{cut}: cannot read a PyTorch checkpoint \(2000 bytes'):
        read_checkpoint(str(cut))


def test_init_mesh_model_is_strict_by_default(body_model_files, tmp_path):
    cfg = mesh_config(body_model_files)  # K=32 placeholders
    torch.manual_seed(1)
    k8 = init_mesh_model(mesh_config(body_model_files), cfg_options={'model.head.num_prototypes': 8})
    path = str(tmp_path / 'k8.pth')
    torch.save(dict(state_dict=k8.state_dict(), meta={}), path)
    with pytest.raises(CheckpointMismatchError) as err:
        init_mesh_model(cfg, path)
    msg = str(err.value)
    assert 'K=8 (from its buffer head.proto_counts)' in msg and 'PrototypeMemoryHead with K=32' in msg
    assert 'Missing from the checkpoint: 0' in msg and 'unexpected in it: 0' in msg
    assert 'head.proto_counts: checkpoint (8,) vs model (32,)' in msg
    loose = init_mesh_model(cfg, path, strict=False)  # what fits is loaded, the rest stays as built
    torch.testing.assert_close(loose.backbone.state_dict(), k8.backbone.state_dict())
    assert loose.head.proto_counts.shape == (32, ) and osp.isfile(path)
