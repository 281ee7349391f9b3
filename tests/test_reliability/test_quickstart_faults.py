"""tools/quickstart.py deletes only what it made, reuses only caches that check, and checks its arguments.

Cases of ``docs/reliability.md`` ("Reliability of runs and caches"): Q1 a user's --data folder, Q2 --fresh
--out over other reports, Q4 the rarity file of the run's own data, Q5 duplicate seeds, Q6 a hand-rendered
data folder, Q9 a truncated test.npz, Q10 a damaged 2D-stage checkpoint, Q11 a truncated pose library,
Q12 (--k 8) num_prototypes, Q13-Q15 --parallel 0 / --iters 0 / --num-test 0, Q16 an empty
quickstart_args.json, Q17 a killed quickstart, Q18 one failing side-by-side step. No step renders or trains.
"""
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from tool_loader import load_tool

from pmnet_plugin.utils import quickstart_cache as qc

quickstart = load_tool('quickstart')
TESTS = osp.dirname(osp.dirname(osp.abspath(__file__)))


def _main(monkeypatch, *argv):
    monkeypatch.setattr(sys, 'argv', ['quickstart.py', *argv])
    with pytest.raises(SystemExit) as exc:
        quickstart.main()
    return str(exc.value.code)


def _args(monkeypatch, capsys, *argv):
    """``parse_args`` of ``argv``; the ``(exit code, stderr)`` of a refusal."""
    monkeypatch.setattr(sys, 'argv', ['quickstart.py', *argv])
    with pytest.raises(SystemExit) as exc:
        quickstart.parse_args()
    return exc.value.code, capsys.readouterr().err


def _renders(folder, num=3, num_test=2, key=None, marked=True):
    """A folder laid out as the quickstart renders it (tiny arrays, empty image files)."""
    os.makedirs(folder, exist_ok=True)
    for split, n in (('train', num), ('test', num_test)):
        os.makedirs(osp.join(folder, split, 'images'))
        for i in range(n):
            open(osp.join(folder, split, 'images', f'{i:06d}.jpg'), 'wb').close()
        np.savez_compressed(osp.join(folder, f'{split}.npz'), image_path=np.array([f'images/{i:06d}.jpg'
                            for i in range(n)]), bbox_xywh=np.ones((n, 5), np.float32))
    if key is not None:
        qc.write_json(osp.join(folder, 'quickstart_args.json'), key)
    if marked:
        open(osp.join(folder, qc.MARKER), 'w').close()
    return str(folder)


def _truncate(path):
    with open(path, 'r+b') as f:
        f.truncate(osp.getsize(path) // 2)


def test_q1_a_users_data_folder_is_refused_and_kept(tmp_path, monkeypatch):
    data = tmp_path / 'mine'
    data.mkdir()
    (data / 'thesis.tex').write_text('my work')
    msg = _main(monkeypatch, '--data', str(data), '--out', str(tmp_path / 'out'))
    assert f'--data {data} is not empty and was not made by the quickstart (thesis.tex)' in msg
    assert 'Choose another --data' in msg
    assert sorted(os.listdir(data)) == ['thesis.tex'] and (data / 'thesis.tex').read_text() == 'my work'
    # a folder the quickstart made: regenerating removes its own entries only
    made = _renders(tmp_path / 'made', key=dict(num=3))
    (tmp_path / 'made' / 'notes.txt').write_text('kept')
    assert qc.renders_problem(made, dict(num=5)) == f'{made} was made with other inputs (num differ)'
    assert 'train.npz' in qc.remove_own(made, qc.DATA_OWN)
    assert sorted(os.listdir(made)) == [qc.MARKER, 'notes.txt']


def test_q2_fresh_removes_only_the_quickstarts_outputs(tmp_path, monkeypatch):
    outputs = tmp_path / 'outputs'
    (outputs / 'quickstart_full').mkdir(parents=True)
    (outputs / 'quickstart_full' / 'report.md').write_text('an earlier report')
    msg = _main(monkeypatch, '--fresh', '--out', str(outputs), '--data', str(tmp_path / 'data'))
    assert 'is not empty and was not made by the quickstart (quickstart_full)' in msg
    assert (outputs / 'quickstart_full' / 'report.md').read_text() == 'an earlier report'
    # in its own folder, --fresh removes its outputs and keeps the user's
    out = tmp_path / 'out'
    (out / 'logs').mkdir(parents=True)
    (out / 'report.md').write_text('old')
    (out / 'my_notes.md').write_text('kept')
    open(out / qc.MARKER, 'w').close()
    args = quickstart.argparse.Namespace(out=str(out), data=str(tmp_path / 'data2'), fresh=True)
    for lock in quickstart.claim_folders(args):
        lock.release()
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith('.')) == ['my_notes.md']


def test_q6_a_hand_rendered_data_folder_is_not_adopted(tmp_path, monkeypatch):
    data = _renders(tmp_path / 'by_hand', num=64, num_test=16, marked=False)  # no quickstart_args.json
    msg = _main(monkeypatch, '--data', data, '--out', str(tmp_path / 'out'), '--num-train', '240')
    assert 'was not made by the quickstart (no valid quickstart_args.json)' in msg
    assert not osp.exists(osp.join(data, 'quickstart_args.json')) and not osp.exists(osp.join(data, qc.MARKER))
    # and a stamp does not hide a count that differs from the files
    key = dict(num=240, num_test=40)
    qc.write_json(osp.join(data, 'quickstart_args.json'), key)
    assert 'holds 64 samples' in qc.renders_problem(data, key)


def test_q9_q16_truncated_renders_and_an_empty_stamp_are_rebuilt(tmp_path):
    key = dict(num=3, num_test=2)
    data = _renders(tmp_path / 'data', key=key)
    assert qc.renders_problem(data, key) is None
    _truncate(osp.join(data, 'test.npz'))
    assert qc.renders_problem(data, key).startswith(f'{data}/test.npz is damaged or truncated')
    open(osp.join(data, 'quickstart_args.json'), 'w').close()  # empty
    assert qc.renders_problem(data, key).startswith(f'{data}/quickstart_args.json is empty or not valid JSON')


def test_q10_a_damaged_or_foreign_2d_stage_is_trained_again(tmp_path):
    wd = tmp_path / 'pose2d'
    wd.mkdir()
    torch.save(dict(state_dict={}), wd / 'iter_2.pth')
    (wd / 'last_checkpoint').write_text(str(wd / 'iter_2.pth'))
    key = dict(config='abc', iters=2, batch_size=32, amp=None, data=dict(num=3))
    qc.write_json(str(wd / 'quickstart_key.json'), key)
    assert qc.stage_problem(str(wd), key) is None
    assert qc.stage_problem(str(wd), dict(key, amp='bfloat16')) == f'{wd} was trained with other inputs (amp differ)'
    _truncate(str(wd / 'iter_2.pth'))
    assert qc.stage_problem(str(wd), key).startswith('its checkpoint does not load')
    (wd / 'last_checkpoint').write_text(str(tmp_path / 'elsewhere' / 'iter_2.pth'))  # a copied folder
    assert qc.stage_problem(str(wd), key) == f'its last_checkpoint names {tmp_path}/elsewhere/iter_2.pth, outside {wd}'


def test_q11_a_truncated_pose_library_is_built_again(tmp_path):
    path = str(tmp_path / 'pose_library.npz')
    np.savez_compressed(path, poses=np.zeros((50, 72)), clip=np.array(['walk'] * 50), frame=np.arange(50),
                        is_rare=np.zeros(50, bool))
    assert qc.pose_library_problem(path) is None
    _truncate(path)
    assert qc.pose_library_problem(path).startswith(f'{path} is damaged or truncated')


@pytest.mark.parametrize('argv, expected', [
    (['--seeds', '0', '0', '--parallel', '2'], '--seeds: 0 given twice'),
    (['--parallel', '0'], '--parallel must be at least 1, got 0'),
    (['--iters', '0'], '--iters must be at least 1, got 0'),
    (['--num-test', '0'], '--num-test must be at least 1, got 0'),
])
def test_q5_q13_q14_q15_arguments_are_checked_before_any_step(argv, expected, monkeypatch, capsys):
    code, err = _args(monkeypatch, capsys, *argv)
    assert code == 2 and expected in err


def test_q4_q12_models_get_the_rarity_file_and_k_of_the_runs_data(monkeypatch):
    from mmengine.config import Config

    from pmnet_plugin.utils.cfg_options import check_cfg_option_keys
    monkeypatch.setattr(sys, 'argv', ['quickstart.py', '--preset', 'full', '--data', 'data/x', '--k', '8'])
    args = quickstart.parse_args()
    opts = quickstart.model_options(args, pose2d='data/x/pose2d/iter_9.pth')
    for name, cfg_file in quickstart.MODEL_CONFIGS.items():
        assert 'model.head.rarity_file=data/x/prototypes_k8.npz' in opts[name]
        cmd = quickstart.train_command(args, cfg_file, 'wd', 0, opts[name])
        pairs = dict(o.split('=', 1) for o in cmd[cmd.index('--cfg-options') + 1:])
        check_cfg_option_keys(Config.fromfile(osp.join(quickstart.ROOT, cfg_file)), pairs)  # all keys known
    assert 'model.head.num_prototypes=8' in opts['PM-Net']
    assert 'model.head.prototype_file=data/x/prototypes_k8.npz' in opts['PM-Net']


def test_q18_one_failing_step_lets_the_others_finish(tmp_path):
    steps = quickstart.Steps(total=2)
    slow = f'import time; time.sleep(1); open(r"{tmp_path}/slow_done", "w")'
    jobs = [('slow', [sys.executable, '-c', slow], str(tmp_path / 'slow.log')),
            ('fails', [sys.executable, '-c', 'raise SystemExit(4)'], str(tmp_path / 'fails.log'))]
    with pytest.raises(SystemExit, match='"fails" failed \\(exit 4\\). Steps running beside it were let finish'):
        steps.run_many('jobs', jobs, parallel=2)
    assert (tmp_path / 'slow_done').exists()  # not killed


SCRIPT = '''
import signal, sys
sys.path.insert(0, {tests!r})
from tool_loader import load_tool
q = load_tool('quickstart')
signal.signal(signal.SIGTERM, q._exit_on_signal)
child = 'import os, time; open(' + repr({pid!r}) + ', "w").write(str(os.getpid())); time.sleep(120)'
q.Steps(total=1).run_many('child', [('child', [sys.executable, '-c', child], None)], parallel=1)
'''


def test_q17_a_terminated_quickstart_ends_its_children(tmp_path):
    pid_file = str(tmp_path / 'child.pid')
    parent = subprocess.Popen([sys.executable, '-c', SCRIPT.format(tests=TESTS, pid=pid_file)],
                              stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(600):  # until the child has started
            if osp.exists(pid_file) and open(pid_file).read() or parent.poll() is not None:
                break
            time.sleep(0.1)
        child = int(open(pid_file).read())
        parent.send_signal(signal.SIGTERM)
        _, err = parent.communicate(timeout=60)
    finally:
        parent.kill()
    assert 'quickstart: stopped by signal SIGTERM; its running steps were ended' in err
    with pytest.raises(ProcessLookupError):
        os.kill(child, 0)
