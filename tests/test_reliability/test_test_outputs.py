"""tools/test.py writes where it is told: outputs follow ``--work-dir``, ``--dump`` leaves no temporary
folder, and an output that cannot be written stops the tool (exit 3) before the evaluation runs.

The config under test is one saved in another run's work dir: it carries that run's absolute
``PoseRarity.out_dir`` and a ``DumpResults`` file, which a test with another ``--work-dir`` used to
overwrite.
"""
import json
import tempfile
import test as test_tool  # (tools/test.py)

import numpy as np
import pytest
from fault_setups import save_model_checkpoint
from test_train_test import dump, tiny_cfg  # (tiny config; synth: conftest.py)

from pmnet_plugin.utils.cli import run_with_file_errors

pytestmark = pytest.mark.slow  # trains or runs tools end to end (make test-fast leaves it out)

PMNET = 'configs/pmnet_res18-w32_1xb16-300it_synthetic-96x96.py'


@pytest.fixture(scope='module')
def other_run(synth, tmp_path_factory):
    """Another run's work dir: its saved config (absolute out paths), results, and a checkpoint."""
    run = tmp_path_factory.mktemp('other_run')
    cfg = tiny_cfg(PMNET, synth, str(run))
    for ev in cfg.test_evaluator:
        if ev.type == 'PoseRarity':
            ev.update(out_dir=str(run), model_name='pmnet')
    cfg.test_evaluator.append(dict(type='DumpResults', out_file_path=str(run / 'preds.pkl')))
    ckpt = save_model_checkpoint(cfg, str(run / 'iter_1.pth'))
    (run / 'rarity_pmnet.json').write_text('{"the other run": 1}')
    return dict(dir=run, cfg=dump(cfg, run / 'pmnet.py'), ckpt=ckpt)


def test_outputs_follow_work_dir_and_dump_leaves_no_temp_folder(other_run, tmp_path, monkeypatch):
    tmp_root = tmp_path / 'tmp'
    tmp_root.mkdir()
    monkeypatch.setattr(tempfile, 'tempdir', str(tmp_root))  # where a temporary folder would go
    here = tmp_path / 'elsewhere'
    preds = str(here / 'preds.npz')
    metrics = test_tool.main([other_run['cfg'], other_run['ckpt'], '--work-dir', str(here), '--dump', preds,
                              '--cfg-options', 'experiment_name=elsewhere'])
    assert np.isfinite(metrics['mesh/MPJPE'])
    run = other_run['dir']
    assert (run / 'rarity_pmnet.json').read_text() == '{"the other run": 1}'  # untouched
    assert not (run / 'rarity_pmnet.png').exists() and not (run / 'preds.pkl').exists()
    with open(here / 'rarity_pmnet.json') as f:
        assert len(json.load(f)['samples']) == 4
    assert (here / 'rarity_pmnet.png').is_file() and (here / 'preds.pkl').is_file()
    with np.load(preds) as arrays:
        assert arrays['smpl_pose'].shape == (4, 72) and len(arrays['img_path']) == 4
    assert list(tmp_root.iterdir()) == []  # no pmnet_dump_* folder
    assert sorted(p.name for p in here.iterdir() if p.name.startswith('.')) == []  # no temp file


@pytest.mark.parametrize('option', ['--dump', '--out'])
def test_unwritable_output_stops_before_the_evaluation(other_run, tmp_path, error_line, option):
    blocker = tmp_path / 'a_file'
    blocker.write_text('not a folder')
    target = str(blocker / ('preds.npz' if option == '--dump' else 'metrics.json'))
    here = tmp_path / 'elsewhere'
    argv = [other_run['cfg'], other_run['ckpt'], '--work-dir', str(here), option, target,
            '--cfg-options', 'experiment_name=unwritable']
    assert run_with_file_errors(test_tool.main, argv) == 3
    err = error_line()
    assert err.startswith(f'error: cannot write {option} {target}: {blocker} is a file, not a folder (checked before '
                          'running')
    assert not (here / 'rarity_pmnet.json').exists()  # the evaluation did not run


def test_dump_metric_writes_whole_or_nothing(tmp_path, monkeypatch):
    from pmnet_plugin.evaluation.metrics import SMPLPredictionDump
    from pmnet_plugin.utils.atomic_io import OutputWriteError
    out = tmp_path / 'preds.npz'
    metric = SMPLPredictionDump(out_file=str(out))
    sample = dict(img_path='a.jpg', pred_instances=dict(smpl_pose=np.zeros((1, 72), np.float32)))
    metric.process(None, [sample, sample])
    assert metric.compute_metrics(metric.results) == {}
    with np.load(out) as arrays:
        assert arrays['smpl_pose'].shape == (2, 72)

    def savez_disk_full(f, **arrays):
        f.write(b'PK\x03\x04 partial')
        raise OSError(28, 'No space left on device')

    monkeypatch.setattr(np, 'savez', savez_disk_full)
    with pytest.raises(OutputWriteError, match=rf'cannot write {out}: No space left on device\. Nothing'):
        metric.compute_metrics(metric.results)
    monkeypatch.undo()
    with np.load(out) as arrays:  # the earlier file is intact, no temporary file is left
        assert arrays['smpl_pose'].shape == (2, 72)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['preds.npz']
