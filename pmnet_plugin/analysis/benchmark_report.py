"""Analysis and report for ``tools/benchmark.py``: ratios from one run's medians, the GPU targets,
the inference-time breakdown, and the markdown / JSON report."""
import json
import os.path as osp
import statistics
from typing import Optional, Sequence

from .benchmarking import INFER_MODES

__all__ = [
    'markdown_table', 'target_status', 'compute_ratios', 'evaluate_targets', 'breakdown', 'write_report',
    'TARGETS'
]

# The GPU speed targets: full-model inference >= 0.9x bare-backbone crops/s (bf16), PM-Net/HMR time
# ratio <= 1.03, training >= 0.8x bare-backbone img/s.
TARGETS = dict(infer_vs_bare=('>=', 0.9), time_ratio=('<=', 1.03), train_vs_bare=('>=', 0.8))


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub markdown table; floats get 3 significant decimals."""

    def fmt(v: object) -> str:
        if isinstance(v, float):
            return f'{v:.1f}' if abs(v) >= 100 else f'{v:.3g}'
        return str(v)

    lines = ['| ' + ' | '.join(headers) + ' |', '|' + '|'.join('---' for _ in headers) + '|']
    lines += ['| ' + ' | '.join(fmt(v) for v in row) + ' |' for row in rows]
    return '\n'.join(lines)


def target_status(measured: Optional[float], op: str, target: float) -> str:
    """``'PASS'`` / ``'MISS'`` for ``measured op target`` (op in '>=', '<='); ``'n/a'`` if unmeasured."""
    if measured is None:
        return 'n/a'
    ok = measured >= target if op == '>=' else measured <= target
    return 'PASS' if ok else 'MISS'


def compute_ratios(res: dict, names: list, settings: list, batch_sizes: list, train_bs: int) -> list:
    """Ratios computed from the measured medians of one run.

    Args:
        res (dict): ``inference`` / ``training`` rows (``model``, ``mode``, ``setting``, ``batch_size``,
            ``latency_ms_median``, ``throughput``); the bare backbone is model ``'bare'``.
        names (list): Model names, baseline first (HMR), candidate last (PM-Net).
        settings (list): Setting names.
        batch_sizes (list): Inference batch sizes.
        train_bs (int): Training batch size.

    Returns:
        list[dict]: ``kind`` ``'time_ratio'`` (candidate/baseline latency) or ``'throughput_ratio'``
        (model/bare), with ``name``, ``phase``, ``mode``, ``setting``, ``batch_size``, ``value``; time
        ratios also carry ``paired_median``, the median ratio of neighbouring calls (rows need ``times``).
    """
    def get(table, **kw):
        hits = [r for r in res[table] if all(r[k] == v for k, v in kw.items())]
        return hits[0] if hits else None

    ratios = []
    base, cand = names[0], names[-1]
    for s in settings:
        for table, modes, bss in (('inference', INFER_MODES, batch_sizes),
                                  ('training', ('train', ), [train_bs])):
            for bs in bss:
                for mode in modes:
                    a = get(table, model=base, mode=mode, setting=s, batch_size=bs)
                    b = get(table, model=cand, mode=mode, setting=s, batch_size=bs)
                    if a and b and len(names) > 1:
                        paired = [tb / ta for ta, tb in zip(a.get('times', []), b.get('times', []))]
                        ratios.append(dict(kind='time_ratio', name=f'{cand}/{base}', phase=table,
                                           mode=mode, setting=s, batch_size=bs,
                                           value=b['latency_ms_median'] / a['latency_ms_median'],
                                           paired_median=statistics.median(paired) if paired else None))
                    ref = get(table, model='bare', setting=s, batch_size=bs)
                    for m in names:
                        r = get(table, model=m, mode=mode, setting=s, batch_size=bs)
                        if r and ref:
                            ratios.append(dict(kind='throughput_ratio', name=f'{m}/bare', phase=table,
                                               mode=mode, setting=s, batch_size=bs,
                                               value=r['throughput'] / ref['throughput']))
    return ratios


def evaluate_targets(ratios: list, names: list, settings: list, batch_sizes: list, cuda: bool) -> list:
    """The GPU targets (:data:`TARGETS`) checked against ratios of :func:`compute_ratios`.

    Model/bare inference uses ``predict`` at the largest batch; the candidate/baseline time ratio
    ``predict`` at the smallest and largest batch and the training step.

    Returns:
        list[dict]: ``target``, ``what``, ``setting``, ``measured``, ``op``, ``threshold``,
        ``status`` (PASS/MISS/n/a) and ``applies`` (True only on CUDA; model/bare inference: bf16).
    """
    out, bs_max = [], max(batch_sizes)

    def pick(**kw):
        hits = [r for r in ratios if all(r[k] == v for k, v in kw.items())]
        return hits[0]['value'] if hits else None

    for s in settings:
        bf16 = s.startswith('bf16')
        for m in names:
            out.append(dict(target='infer_vs_bare', what=f'{m}/bare crops/s (predict, bs {bs_max})',
                            setting=s, measured=pick(kind='throughput_ratio', name=f'{m}/bare',
                                                     mode='predict', setting=s, batch_size=bs_max),
                            applies=cuda and bf16))
            out.append(dict(target='train_vs_bare', what=f'{m}/bare train img/s', setting=s,
                            measured=pick(kind='throughput_ratio', name=f'{m}/bare', mode='train',
                                          setting=s), applies=cuda))
        if len(names) > 1:
            ratio = f'{names[-1]}/{names[0]}'
            for bs in sorted({min(batch_sizes), bs_max}):
                out.append(dict(target='time_ratio', what=f'{ratio} time (predict, bs {bs})', setting=s,
                                measured=pick(kind='time_ratio', mode='predict', setting=s,
                                              batch_size=bs), applies=cuda))
            out.append(dict(target='time_ratio', what=f'{ratio} time (train)', setting=s,
                            measured=pick(kind='time_ratio', mode='train', setting=s), applies=cuda))
    for t in out:
        t['op'], t['threshold'] = TARGETS[t['target']]
        t['status'] = target_status(t['measured'], t['op'], t['threshold'])
    return out


def breakdown(res: dict, names: list, settings: list, bs: int) -> list:
    """Where inference time goes at batch ``bs``: differences of medians, ms per batch.

    backbone = bare backbone; head regression = forward - bare; SMPL = forward_smpl - forward;
    post-processing (device->host, numpy, InstanceData) = predict - forward_smpl; vertex output =
    predict - predict_novert. Noise can make a small difference negative.
    """
    med = {(r['model'], r['mode'], r['setting']): r['latency_ms_median'] for r in res['inference']
           if r['batch_size'] == bs}
    rows = []
    for s in settings:
        for m in names:
            t = {mode: med.get((m, mode, s)) for mode in INFER_MODES}
            t['backbone'] = med.get(('bare', 'backbone', s))
            if t['predict'] is None or t['backbone'] is None:
                continue

            def diff(a, b):
                return None if t[a] is None or t[b] is None else t[a] - t[b]

            rows.append(dict(model=m, setting=s, batch_size=bs, total_predict_ms=t['predict'],
                             backbone_ms=t['backbone'], head_regression_ms=diff('forward', 'backbone'),
                             smpl_ms=diff('forward_smpl', 'forward'),
                             postprocess_ms=diff('predict', 'forward_smpl'),
                             vertex_output_ms=diff('predict', 'predict_novert')))
    return rows


def write_report(report: dict, out_dir: str) -> str:
    """Writes ``benchmark.md`` and ``benchmark.json`` to ``out_dir``; returns the markdown."""
    meta = report['meta']
    load = meta['load_avg_1_5_15min']
    lines = [f'# Benchmark {meta["date_utc"]}', '',
             f'- device: {meta["device_name"]} ({meta["device"]}), torch {meta["torch"]}, '
             f'threads {meta["torch_threads"]}, CPU cores {meta["cpu_count"]}, load average (1 min) '
             f'{load["start"][0]:.1f} at start, {load["end"][0]:.1f} at end',
             f'- command: `{meta["command"]}`', f'- input {meta["input_size"]}px, iters '
             f'{meta["iters"]} (median), warm-up {meta["warmup"]}, memory: {meta["memory_kind"]}']
    lines += [f'- note: {n}' for n in report['notes']]
    cols = ['model', 'mode', 'setting', 'batch', 'median ms', 'p90 ms', 'items/s', 'peak MB', 'delta MB']
    for table in ('inference', 'training'):
        rows = [[r['model'], r['mode'], r['setting'], r['batch_size'], r['latency_ms_median'],
                 r['latency_ms_p90'], r['throughput'], r.get('peak_mb', 0.0), r.get('delta_mb', 0.0)]
                for r in report[table]]
        if rows:
            lines += ['', f'## {table.capitalize()}', '', markdown_table(cols, rows)]
    sel = [r for r in report['ratios'] if r['mode'] in ('predict', 'forward_smpl', 'train')]
    lines += ['', '## Ratios (same run; paired = median over calls of neighbouring-call ratios)', '',
              markdown_table(['ratio', 'phase', 'mode', 'setting', 'batch', 'value', 'paired'],
                             [[r['name'] + (' time' if r['kind'] == 'time_ratio' else ' throughput'),
                               r['phase'], r['mode'], r['setting'], r['batch_size'], r['value'],
                               r.get('paired_median') or '-'] for r in sel])]
    lines += ['', '## Targets (defined for the GPU; "applies" = measured on CUDA in the named precision)',
              '', markdown_table(['what', 'setting', 'measured', 'target', 'status', 'applies'], [
                  [t['what'], t['setting'], t['measured'] if t['measured'] is not None else '-',
                   f'{t["op"]} {t["threshold"]}', t['status'], 'yes' if t['applies'] else
                   'no (informational)'] for t in report['targets']])]
    if report['breakdown']:
        keys = ['total_predict_ms', 'backbone_ms', 'head_regression_ms', 'smpl_ms', 'postprocess_ms',
                'vertex_output_ms']
        lines += ['', '## Where inference time goes (ms per batch, differences of medians)', '',
                  markdown_table(['model', 'setting', 'batch'] + keys,
                                 [[b['model'], b['setting'], b['batch_size']] +
                                  ['-' if b[k] is None else b[k] for k in keys]
                                  for b in report['breakdown']])]
    dl = report['dataloader']
    lines += ['', '## Training dataloader', '']
    if 'skipped' in dl:
        lines.append(f'SKIPPED: {dl["skipped"]}')
    else:
        lines.append(markdown_table(['workers', 'batch', 'batches', 'first batch s', 'images/s',
                                     'images/s incl. first'],
                                    [[r['workers'], r['batch_size'], r['batches'], r['first_batch_s'],
                                      r['images_per_s'] or '-', r['images_per_s_incl_first']]
                                     for r in dl['runs']]))
        med = dl.get('median_images_per_s', {})
        if med:
            base = med.get(0, med.get('0'))
            lines += ['', 'Median images/s: ' + ', '.join(
                f'{w} workers {v:.0f}' + (f' ({v / base:.2f}x 0 workers)' if base and str(w) != '0' else '')
                for w, v in med.items())]
    if report.get('op_counts'):
        lines += ['', '## aten ops and host syncs per call (fp32; on a GPU: kernel launches and device syncs)', '',
                  markdown_table(['model', 'mode', 'batch', 'aten ops', 'syncs'],
                                 [[r['model'], r['mode'], r['batch_size'], r['ops'], r['syncs']]
                                  for r in report['op_counts']])]
    for name, p in report.get('profile', {}).items():
        lines += ['', f'Profile {name}: components (ms/call) ' + ', '.join(
            f'{k} {v["cpu_ms"]:.2f} cpu / {v["device_ms"]:.2f} dev'
            for k, v in p['components_ms_per_call'].items()) + f' — top ops in {p["table_file"]}']
    text = '\n'.join(lines) + '\n'
    with open(osp.join(out_dir, 'benchmark.md'), 'w') as f:
        f.write(text)
    with open(osp.join(out_dir, 'benchmark.json'), 'w') as f:
        json.dump(report, f, indent=1)
    return text
