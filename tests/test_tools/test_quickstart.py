"""tools/quickstart.py: presets, the training command, side-by-side steps and the baseline table."""
import json
import sys

import pytest
from tool_loader import load_tool

from pmnet_plugin.analysis import quickstart_report

quickstart = load_tool('quickstart')


def _args(preset, *extra):
    argv = sys.argv
    sys.argv = ['quickstart.py', '--preset', preset, *extra]
    try:
        return quickstart.parse_args()
    finally:
        sys.argv = argv


def test_gpu_preset_scales_the_budget_and_runs_side_by_side():
    full, gpu, demo = _args('full'), _args('gpu'), _args('demo')
    assert gpu.iters * gpu.batch_size >= 10 * full.iters * full.batch_size
    assert gpu.models == full.models == ['HMR', 'HMR-BMC', 'PM-Net'] and demo.models == ['HMR', 'PM-Net']
    assert gpu.parallel == len(gpu.models) * len(gpu.seeds) and gpu.workers > 0
    cmd = quickstart.train_command(gpu, 'c.py', 'wd', 1, ['x=1'])
    assert '--auto-scale-lr' in cmd and cmd[cmd.index('--amp-dtype') + 1] == 'bfloat16'
    assert 'train_dataloader.batch_size=256' in cmd and 'train_dataloader.num_workers=2' in cmd
    assert 'randomness.seed=1' in cmd and cmd[-1] == 'x=1'
    plain = quickstart.train_command(demo, 'c.py', 'wd', 0, [])
    assert '--auto-scale-lr' not in plain and '--amp' not in plain  # the CPU presets train as before
    assert 'train_dataloader.num_workers=0' in plain
    assert _args('gpu', '--amp', 'none').amp is None
    # the 2D stage: the same budget by default, its own iterations when asked, off with 0
    assert demo.pose2d_iters == demo.iters and _args('demo', '--pose2d-iters', '0').pose2d_iters == 0
    stage = quickstart.train_command(demo, quickstart.POSE2D_CONFIG, 'wd', 0, [], iters=50)
    assert 'train_cfg.max_iters=50' in stage and 'param_scheduler.1.T_max=50' in stage
    with pytest.raises(SystemExit):
        _args('demo', '--models', 'PM-Net', 'HMR')  # the ratios are to HMR, which comes first


def test_run_many_runs_every_job_and_stops_at_a_failure(tmp_path):
    steps = quickstart.Steps(total=5)
    jobs = [(f'job {i}', [sys.executable, '-c', f'open(r"{tmp_path}/done{i}", "w")'], str(tmp_path / f'{i}.log'))
            for i in range(3)]
    steps.run_many('jobs', jobs, parallel=2)
    assert sorted(p.name for p in tmp_path.glob('done*')) == ['done0', 'done1', 'done2']
    assert steps.done == 3 and {'job 0', 'job 1', 'job 2'} <= set(steps.times)
    assert any(k.startswith('jobs: wall time, 2 side by side') for k in steps.times)
    bad = [('fails', [sys.executable, '-c', 'import sys; print("boom"); sys.exit(4)'], str(tmp_path / 'bad.log'))]
    with pytest.raises(SystemExit, match='"fails" failed \\(exit 4\\)'):
        steps.run_many('bad', bad, parallel=2)
    # one step: skipped when its output exists, else run (output to the console without a log)
    steps.run('skipped', [sys.executable, '-c', 'raise SystemExit(3)'], skip_if=str(tmp_path / 'done0'))
    assert steps.done == 5 and 'skipped' not in steps.times
    with pytest.raises(SystemExit, match='"one" failed \\(exit 3\\)'):
        steps.run('one', [sys.executable, '-c', 'raise SystemExit(3)'])


def test_baseline_table_counts_the_seeds_that_beat_each_baseline(tmp_path):
    diags = {}
    for seed, (hmr, pmnet) in enumerate([(200.0, 190.0), (180.0, 199.0)]):
        d = dict(baselines={'constant (mean test pose)': 350.0, 'mean pose with GT orientation and shape': 195.0},
                 models={'HMR': dict(MPJPE=hmr), 'PM-Net': dict(MPJPE=pmnet)})
        path = tmp_path / f'diagnostics_seed{seed}'
        path.with_suffix('.json').write_text(json.dumps(d))
        diags[seed] = str(path)
    rows = {line.split('|')[1].strip(): [c.strip() for c in line.split('|')[2:5]]
            for line in quickstart_report.baseline_table(diags).splitlines()[2:]}
    assert rows['HMR'] == ['190.0 ± 14.1', '2 of 2 seeds', '1 of 2 seeds']
    assert rows['PM-Net'][2] == '1 of 2 seeds'


def test_side_by_side_jobs_share_the_cores(tmp_path, monkeypatch):
    # more OpenMP threads than cores stall every job; side by side, each gets its share of the cores
    monkeypatch.setattr(quickstart.os, 'cpu_count', lambda: 16)
    monkeypatch.delenv('OMP_NUM_THREADS', raising=False)
    code = 'import os, sys; open(sys.argv[1], "w").write(os.environ.get("OMP_NUM_THREADS", "unset"))'
    steps = quickstart.Steps(total=4)
    side = [(f'job {i}', [sys.executable, '-c', code, str(tmp_path / f'side{i}')], None) for i in range(3)]
    steps.run_many('side', side, parallel=4)  # 3 jobs: 16 // 3 cores each
    assert {(tmp_path / f'side{i}').read_text() for i in range(3)} == {'5'}
    steps.run_many('one', [('alone', [sys.executable, '-c', code, str(tmp_path / 'alone')], None)], parallel=4)
    assert (tmp_path / 'alone').read_text() == 'unset'  # one job at a time keeps torch's default
