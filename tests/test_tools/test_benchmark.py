"""Smoke test of tools/benchmark.py (tiny sizes, CPU) and its helpers; no timing assertions."""
import gc
import json
import mmap
import os.path as osp

import numpy as np
import pytest
import torch
from tool_loader import load_tool

from pmnet_plugin.analysis.benchmark_report import (compute_ratios, evaluate_targets,
                                                    markdown_table, target_status)
from pmnet_plugin.analysis.benchmarking import PeakMemory, summarize_times, time_interleaved

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
CONFIGS = [osp.join(ROOT, 'configs', 'hmr_res18-w32_1xb16-300it_synthetic-96x96.py'),
           osp.join(ROOT, 'configs', 'pmnet_res18-w32_1xb16-300it_synthetic-96x96.py')]


def _new_pages(mb: int) -> mmap.mmap:
    """``mb`` MB of freshly mapped, written pages: they always add to the RSS (a NumPy array can be served
    from memory the allocator already holds resident, and then adds nothing)."""
    buf = mmap.mmap(-1, mb * 2**20)
    np.frombuffer(buf, np.uint8)[::4096] = 1  # one write per page makes every page resident
    return buf


def _load_tool():
    return load_tool('benchmark')


def _row(model, mode, ms, bs=4):
    return dict(model=model, mode=mode, setting='fp32', batch_size=bs, latency_ms_median=ms,
                throughput=bs / ms * 1e3, times=[ms / 1e3] * 3)


class TestHelpers:

    def test_summarize_times(self):
        s = summarize_times([0.3, 0.1, 0.2], batch_size=4)
        assert s['latency_ms_median'] == pytest.approx(200.0)
        assert s['throughput'] == pytest.approx(20.0)
        assert s['latency_ms_p10'] == pytest.approx(100.0) and s['latency_ms_p90'] == pytest.approx(300.0)
        assert s['n'] == 3

    def test_time_interleaved_order_and_counts(self):
        calls = []
        fns = {'a': lambda: calls.append('a'), 'b': lambda: calls.append('b')}
        out = time_interleaved(fns, iters=3, warmup=2, device='cpu')
        assert calls == ['a', 'b'] * 5
        assert [len(out[k]['times']) for k in 'ab'] == [3, 3]

    def test_time_interleaved_cpu_memory_windows_without_collections(self):
        # inside the timed calls the collector is off (no collection can free earlier garbage in a
        # window) and it is on again afterwards
        enabled = []

        def alloc():
            enabled.append(gc.isenabled())
            block = _new_pages(64)
            mem.sample()  # the peak is recorded here, whatever the sampling thread's timing
            block.close()

        mem = PeakMemory('cpu', interval=0.001)
        try:
            out = time_interleaved({'alloc': alloc}, iters=2, warmup=1, device='cpu', memory=mem)
        finally:
            mem.close()
        assert enabled == [True, False, False] and gc.isenabled()
        assert out['alloc']['delta_mb'] > 32

    def test_peak_memory_sees_a_cpu_allocation(self):
        # No collection inside the window: freeing earlier tests' garbage there would lower the RSS.
        mem = PeakMemory('cpu', interval=0.001)
        gc.disable()
        try:
            mem.start()
            block = _new_pages(128)
            got = mem.read()  # reads the RSS now as well: no wait for the sampling thread
            block.close()
        finally:
            gc.enable()
            mem.close()
        assert got['delta_mb'] > 64 and got['peak_mb'] >= got['delta_mb']

    def test_target_status_and_table(self):
        assert target_status(0.95, '>=', 0.9) == 'PASS'
        assert target_status(1.05, '<=', 1.03) == 'MISS'
        assert target_status(None, '<=', 1.03) == 'n/a'
        table = markdown_table(['a', 'b'], [[1, 0.12345], ['x', 1234.5]])
        assert table.splitlines()[1] == '|---|---|' and '0.123' in table and '1234.5' in table

    def test_ratios_and_targets_come_from_the_rows(self):
        res = dict(inference=[_row('bare', 'backbone', 10.0)] + [
            _row(m, mode, ms * (1.1 if m == 'pmnet' else 1.0))
            for m in ('hmr', 'pmnet')
            for mode, ms in (('forward', 11.0), ('forward_smpl', 12.0), ('predict', 20.0),
                             ('predict_novert', 15.0))],
                   training=[_row('bare', 'train', 30.0), _row('hmr', 'train', 40.0),
                             _row('pmnet', 'train', 41.0)])
        ratios = compute_ratios(res, ['hmr', 'pmnet'], ['fp32'], [4], 4)
        pick = {(r['kind'], r['name'], r['mode']): r['value'] for r in ratios}
        assert pick[('time_ratio', 'pmnet/hmr', 'predict')] == pytest.approx(1.1)
        paired = [r['paired_median'] for r in ratios if r['kind'] == 'time_ratio' and r['mode'] == 'predict']
        assert paired == [pytest.approx(1.1)]
        assert pick[('time_ratio', 'pmnet/hmr', 'train')] == pytest.approx(41 / 40)
        assert pick[('throughput_ratio', 'hmr/bare', 'predict')] == pytest.approx(0.5)
        assert pick[('throughput_ratio', 'pmnet/bare', 'train')] == pytest.approx(30 / 41)
        targets = evaluate_targets(ratios, ['hmr', 'pmnet'], ['fp32'], [4], cuda=False)
        by = {(t['target'], t['what']): t for t in targets}
        assert by[('time_ratio', 'pmnet/hmr time (predict, bs 4)')]['status'] == 'MISS'
        assert by[('time_ratio', 'pmnet/hmr time (train)')]['status'] == 'PASS'
        assert all(not t['applies'] for t in targets)  # GPU targets are informational on CPU


@pytest.mark.slow
def test_benchmark_tool_smoke(tmp_path, body_model_files):
    tool = _load_tool()
    out = tmp_path / 'bench'
    report = tool.main([
        '--configs', *CONFIGS, '--device', 'cpu', '--batch-sizes', '1', '2', '--train-batch-size', '2',
        '--iters', '1', '--warmup', '0', '--input-size', '64', '--out-dir', str(out),
        '--body-model-dir', body_model_files['dir'], '--prototype-file', str(tmp_path / 'none.npz'),
        '--data-root', str(tmp_path / 'no_data'), '--workers', '0', '--count-ops'
    ])
    data = json.loads((out / 'benchmark.json').read_text())
    assert data['schema'] == 'pmnet-benchmark/1' and set(data['models']) == {'bare', 'hmr', 'pmnet'}
    inf = {(r['model'], r['mode'], r['batch_size']): r for r in data['inference']}
    for bs in (1, 2):
        assert ('bare', 'backbone', bs) in inf
        for model in ('hmr', 'pmnet'):
            for mode in ('forward', 'forward_smpl', 'predict', 'predict_novert'):
                r = inf[(model, mode, bs)]
                assert r['throughput'] == pytest.approx(bs / r['latency_ms_median'] * 1e3)
                assert r['peak_mb'] > 0
    train = {r['model']: r for r in data['training']}
    assert set(train) == {'bare', 'hmr', 'pmnet'} and train['hmr']['batch_size'] == 2
    # every ratio is recomputed from the measured medians of the same run
    for r in data['ratios']:
        table = {'inference': inf, 'training': {(k, 'train', 2): v for k, v in train.items()}}[r['phase']]
        num, den = r['name'].split('/')
        if r['kind'] == 'time_ratio':
            a, b = table[(den, r['mode'], r['batch_size'])], table[(num, r['mode'], r['batch_size'])]
            want = b['latency_ms_median'] / a['latency_ms_median']
            assert r['paired_median'] == pytest.approx(np.median(np.divide(b['times'], a['times'])))
        else:
            ref = table[('bare', 'backbone' if r['phase'] == 'inference' else 'train', r['batch_size'])]
            want = table[(num, r['mode'], r['batch_size'])]['throughput'] / ref['throughput']
        assert r['value'] == pytest.approx(want)
    assert any(r['kind'] == 'time_ratio' and r['mode'] == 'predict' for r in data['ratios'])
    assert {t['status'] for t in data['targets']} <= {'PASS', 'MISS'}
    assert any('RANDOM prototypes' in n for n in data['notes'])
    assert 'not found' in data['dataloader']['skipped']
    md = (out / 'benchmark.md').read_text()
    for section in ('## Inference', '## Training', '## Ratios (same run', '## Targets',
                    '## Where inference time goes', 'SKIPPED'):
        assert section in md
    assert report['breakdown'] and report['breakdown'][0]['batch_size'] == 2
    counts = {(r['model'], r['mode']): r for r in data['op_counts']}
    assert counts[('hmr', 'predict')]['ops'] > counts[('hmr', 'forward')]['ops'] > 0
    assert counts[('pmnet', 'loss+backward')]['batch_size'] == 2
    # the mesh models' inference reads nothing back to the host before its outputs
    assert all(counts[(m, mode)]['syncs'] == 0 for m in ('hmr', 'pmnet') for mode in ('forward', 'forward_smpl'))
    assert '## aten ops and host syncs per call' in md


def test_count_ops_sees_launches_and_host_reads():
    from pmnet_plugin.analysis.benchmarking import count_ops
    x = torch.ones(3)
    quiet = count_ops(lambda: (x * 2 + 1).sum())
    assert quiet == dict(ops=3, syncs=0)
    assert count_ops(lambda: float((x * 2).sum()))['syncs'] == 1
    chain = [x, x * 2]
    assert count_ops(lambda: chain[torch.tensor(1)])['syncs'] == 1  # list indexed with a tensor element
