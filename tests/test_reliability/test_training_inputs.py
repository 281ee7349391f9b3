"""Training refuses inputs that would train the wrong thing silently.

- PM-Net without a prototype file (K identity placeholders) stops at the first batch with exit 2 and a
  message saying how to build the file; the same config trains when ``load_from`` gives it prototypes.
- A prototype file of another K stops with exit 2 naming the file and both K.
- Labels in another scale (3D joints x 1e9) stop training when the dataset loads, with exit 2 naming the
  file, key and samples; only labelled entries count.
"""
import os.path as osp

import numpy as np
import pytest
import torch
import train as train_tool  # (tools/train.py)
from fault_setups import copy_split
from test_train_test import NUM_PROTOS, dump, tiny_cfg  # (tiny config; synth: conftest.py)

from pmnet_plugin.prototypes.geometry import MissingPrototypesError
from pmnet_plugin.utils.cli import run_with_file_errors

pytestmark = pytest.mark.slow  # trains or runs tools end to end (make test-fast leaves it out)

PMNET = 'configs/pmnet_res18-w32_1xb16-300it_synthetic-96x96.py'


def test_pmnet_does_not_train_on_placeholder_prototypes(synth, tmp_path, error_line):
    work = str(tmp_path / 'work')
    cfg = tiny_cfg(PMNET, synth, work, max_iters=1)
    cfg.model.head.prototype_file = None
    cfg_path = dump(cfg, tmp_path / 'no_protos.py')
    with pytest.raises(MissingPrototypesError) as err:
        train_tool.main([cfg_path, '--cfg-options', 'experiment_name=none'])
    msg = str(err.value)
    assert f'prototype_file=None and all {NUM_PROTOS} prototypes the same pose' in msg
    assert 'tools/build_prototypes.py' in msg and 'model.head.prototype_file' in msg
    assert not osp.exists(osp.join(work, 'iter_1.pth'))  # nothing was trained or saved
    assert run_with_file_errors(train_tool.main, [cfg_path, '--cfg-options', 'experiment_name=n2']) == 2
    assert 'tools/build_prototypes.py' in error_line()  # one line, exit 2

    # prototypes from a PM-Net checkpoint (load_from, fine-tuning) are prototypes: it trains
    donor = str(tmp_path / 'donor')
    train_tool.main([dump(tiny_cfg(PMNET, synth, donor, max_iters=1), tmp_path / 'donor.py'),
                     '--cfg-options', 'experiment_name=donor'])
    runner = train_tool.main([cfg_path, '--cfg-options', f'load_from={osp.join(donor, "iter_1.pth")}',
                              'experiment_name=finetune'])
    assert runner.iter == 1
    protos = np.load(synth['proto'])['pose_rot6d']
    torch.testing.assert_close(runner.model.head.proto_pose_rot6d, torch.as_tensor(protos))


def test_prototype_file_of_another_k_exits_2_naming_it(synth, tmp_path, error_line):
    cfg = tiny_cfg(PMNET, synth, str(tmp_path / 'work'), max_iters=1)
    cfg.model.head.num_prototypes = NUM_PROTOS + 1
    argv = [dump(cfg, tmp_path / 'cfg.py'), '--cfg-options', 'experiment_name=k']
    assert run_with_file_errors(train_tool.main, argv) == 2
    err = error_line()
    assert f"prototype file {synth['proto']} has K={NUM_PROTOS} prototypes" in err
    assert f'num_prototypes={NUM_PROTOS + 1}' in err and f'--k {NUM_PROTOS + 1}' in err


def test_absurd_labels_stop_training_when_the_dataset_loads(synth, tmp_path, error_line):
    def scaled(arrays):
        arrays['keypoints3d'] = arrays['keypoints3d'].copy()
        arrays['keypoints3d'][..., :3] *= 1e9

    data_root = copy_split(synth, tmp_path / 'data', scaled)
    work = str(tmp_path / 'work')
    cfg = tiny_cfg(PMNET, dict(synth, data_root=data_root), work, max_iters=2)
    argv = [dump(cfg, tmp_path / 'cfg.py'), '--cfg-options', 'experiment_name=scaled']
    assert run_with_file_errors(train_tool.main, argv) == 2
    err = error_line()
    train_npz = osp.join(data_root, 'train.npz')
    assert f"{train_npz}: key 'keypoints3d' (keypoints_3d, metres): 8 of 8 samples have labels" in err
    assert 'rows 0, 1, 2, 3, 4 (and 3 more); first: images/000000.jpg' in err
    assert 'divided by 1000' in err
    assert not osp.exists(osp.join(work, 'iter_1.pth'))  # nothing trained


def test_label_ranges_count_labelled_entries_only():
    from pmnet_plugin.datasets.label_checks import LabelRangeError, check_label_ranges
    n = 3
    cols = dict(img_path=np.array(['a.jpg', 'b.jpg', 'c.jpg']), keypoints_3d=np.zeros((n, 2, 3)),
                keypoints_3d_visible=np.ones((n, 2)), smpl_pose=np.zeros((n, 72)), has_smpl=np.ones(n))
    cols['keypoints_3d'][1, 1] = np.nan
    cols['keypoints_3d_visible'][1, 1] = 0  # an unlabelled joint may hold anything
    cols['smpl_pose'][2] = 400.0
    cols['has_smpl'][2] = 0  # not an SMPL label
    check_label_ranges('ann.npz', cols)
    cols['keypoints_3d_visible'][1, 1] = 1
    with pytest.raises(LabelRangeError, match=r"ann\.npz: key 'keypoints_3d'.*1 of 3 samples.*rows 1; "
                       r'first: b\.jpg; no finite value'):
        check_label_ranges('ann.npz', cols)
    cols['keypoints_3d_visible'][1, 1] = 0
    cols['has_smpl'][2] = 1
    with pytest.raises(LabelRangeError, match=r"smpl_pose, radians.*rows 2; first: c\.jpg; max \|value\| 400"):
        check_label_ranges('ann.npz', cols)
