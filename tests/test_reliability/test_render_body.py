"""Renders are tied to the body model they were rendered with.

The tiny renders record the fingerprint of their body and carry its arrays (``body_model.npz``); the
fingerprint ignores float noise and tells another procedural body (``--seed 1``) apart; tools/train.py
and tools/test.py refuse a config whose body model is another body, naming both (exit 2).
"""
import os.path as osp
import test as test_tool  # (tools/test.py)

import numpy as np
import pytest
import train as train_tool  # (tools/train.py)
from fault_setups import save_model_checkpoint
from test_train_test import dump, tiny_cfg  # (tiny config; synth: conftest.py)

from pmnet_plugin.models.body_models import fingerprint as fp
from pmnet_plugin.models.body_models.smpl_io import load_smpl_model_file
from pmnet_plugin.utils.cli import run_with_file_errors

pytestmark = pytest.mark.slow  # trains or runs tools end to end (make test-fast leaves it out)

PMNET = 'configs/pmnet_res18-w32_1xb16-300it_synthetic-96x96.py'


@pytest.fixture(scope='module')
def other_body(tmp_path_factory):
    from pmnet_plugin.synthetic.procedural_body import make_synthetic_smpl
    return make_synthetic_smpl(str(tmp_path_factory.mktemp('body_seed1')), seed=1)


def test_fingerprint_ignores_float_noise_and_tells_bodies_apart(body_model_files, other_body):
    arrays = load_smpl_model_file(body_model_files['model_path'])
    reference = fp.fingerprint_arrays(arrays)
    rng = np.random.default_rng(0)
    noisy = {k: np.asarray(v) * (1 + rng.normal(0, 3e-14, np.shape(v))) if k in fp.BODY_KEYS else v
             for k, v in arrays.items()}
    assert fp.fingerprint_arrays(noisy) == reference
    assert fp.body_model_fingerprint(body_model_files['model_path_npz']) == reference  # same body, .npz
    assert fp.body_model_fingerprint(other_body['model_path']) != reference


def test_renders_record_and_carry_their_body(synth):
    fingerprint = fp.body_model_fingerprint(synth['files']['model_path'])
    for split in ('train', 'test'):
        with np.load(osp.join(synth['data_root'], f'{split}.npz'), allow_pickle=False) as data:
            assert str(data['body_model_fingerprint']) == fingerprint
    carried = osp.join(synth['data_root'], 'body_model.npz')
    assert fp.body_model_fingerprint(carried) == fingerprint
    assert osp.getsize(carried) < osp.getsize(synth['files']['model_path']) / 10


def _with_body(cfg, model_path: str):
    cfg.model.head.body_model.model_path = model_path
    for ev in cfg.val_evaluator + cfg.test_evaluator:
        ev.body_model.model_path = model_path
    return cfg


def test_train_and_test_refuse_renders_of_another_body(synth, other_body, tmp_path, error_line):
    work = str(tmp_path / 'work')
    good = tiny_cfg(PMNET, synth, work)
    ckpt = save_model_checkpoint(good, str(tmp_path / 'pmnet.pth'))
    cfg_path = dump(_with_body(tiny_cfg(PMNET, synth, work), other_body['model_path']), tmp_path / 'other.py')
    expected = (f"{osp.join(synth['data_root'], 'train.npz')} was rendered with the body model "
                f"{fp.body_model_fingerprint(synth['files']['model_path'])}, but model.head.body_model is "
                f"{other_body['model_path']} ({fp.body_model_fingerprint(other_body['model_path'])})")
    assert run_with_file_errors(train_tool.main, [cfg_path, '--cfg-options', 'experiment_name=other']) == 2
    err = error_line()
    assert err.startswith(f'error: {expected}') and 'body_model.npz' in err
    assert run_with_file_errors(test_tool.main, [cfg_path, ckpt, '--work-dir', work]) == 2
    assert f"{osp.join(synth['data_root'], 'test.npz')} was rendered with the body model" in error_line()
    # the body the renders carry is the same body: accepted
    carried = osp.join(synth['data_root'], 'body_model.npz')
    same = dump(_with_body(tiny_cfg(PMNET, synth, work), carried), tmp_path / 'same.py')
    metrics = test_tool.main([same, ckpt, '--work-dir', work, '--cfg-options', 'experiment_name=same'])
    assert np.isfinite(metrics['mesh/MPJPE'])
