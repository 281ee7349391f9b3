"""Small helpers for ``tools/benchmark.py``: synchronised timing, peak memory, autocast, tables.

Timing follows the usual GPU rules: every timed call is bracketed by ``torch.cuda.synchronize()`` so the
host clock measures finished kernels, warm-up calls (cuDNN autotuning, ``torch.compile``, allocator
growth) are discarded, and the median over calls is reported (robust to a shared, noisy machine).
:func:`time_interleaved` alternates the compared functions call by call, so drift in machine load hits
all of them alike and ratios measured in one run stay meaningful.
"""
import contextlib
import gc
import json
import os
import os.path as osp
import statistics
import threading
import time
from typing import Callable, Dict, List, Optional, Sequence

import torch

__all__ = [
    'synchronize', 'autocast', 'PeakMemory', 'time_interleaved', 'summarize_times', 'markdown_table',
    'target_status', 'label_modules', 'profile_calls', 'cpu_name', 'compute_ratios', 'evaluate_targets',
    'breakdown', 'write_report', 'TARGETS', 'INFER_MODES'
]

# The GPU speed targets: full-model inference >= 0.9x bare-backbone crops/s (bf16), PM-Net/HMR time
# ratio <= 1.03, training >= 0.8x bare-backbone img/s.
TARGETS = dict(infer_vs_bare=('>=', 0.9), time_ratio=('<=', 1.03), train_vs_bare=('>=', 0.8))
INFER_MODES = ('forward', 'forward_smpl', 'predict', 'predict_novert')


def synchronize(device: str) -> None:
    """Waits for all queued kernels on ``device`` (no-op on CPU)."""
    if torch.device(device).type == 'cuda':
        torch.cuda.synchronize(device)


def autocast(device: str, dtype: Optional[str]):
    """Autocast context for ``dtype`` in (None, 'fp32', 'bf16', 'fp16'); a null context for fp32."""
    if dtype in (None, 'fp32', 'none'):
        return contextlib.nullcontext()
    torch_dtype = dict(bf16=torch.bfloat16, fp16=torch.float16)[dtype]
    return torch.autocast(device_type=torch.device(device).type, dtype=torch_dtype)


def _rss_bytes() -> int:
    """Resident set size of this process (Linux ``/proc``; falls back to ``ru_maxrss``)."""
    try:
        with open('/proc/self/statm') as f:
            return int(f.read().split()[1]) * os.sysconf('SC_PAGE_SIZE')
    except (OSError, ValueError, IndexError):
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class PeakMemory:
    """Peak memory of a code window: CUDA ``max_memory_allocated`` or a sampled CPU RSS.

    On CUDA the allocator's peak counter is reset at :meth:`start` (exact, tensors only). On CPU a
    daemon thread samples the process RSS every ``interval`` seconds (torch releases the GIL inside
    kernels, so sampling continues during a forward); the peak is an estimate that also counts
    allocator caches and misses spikes shorter than ``interval``. The CPU :meth:`start` runs
    ``gc.collect()`` first, so earlier garbage freed inside the window does not hide an allocation.

    Args:
        device (str): ``'cpu'`` or a CUDA device.
        interval (float): CPU sampling period in seconds. Defaults to 0.002.
    """

    def __init__(self, device: str, interval: float = 0.002) -> None:
        self.cuda = torch.device(device).type == 'cuda'
        self.device = device
        self.kind = 'cuda_max_allocated' if self.cuda else 'cpu_rss_sampled'
        self.interval = interval
        self._base = 0
        self._peak = 0
        self._stop = threading.Event()
        self._thread = None
        if not self.cuda:
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()

    def _sample(self) -> None:
        while not self._stop.is_set():
            self._peak = max(self._peak, _rss_bytes())
            time.sleep(self.interval)

    def start(self) -> None:
        """Begins a window (resets the peak)."""
        if self.cuda:
            synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._base = torch.cuda.memory_allocated(self.device)
        else:
            gc.collect()  # garbage freed inside the window would lower the RSS under the peak
            self._base = self._peak = _rss_bytes()

    def read(self) -> Dict[str, float]:
        """Ends a window: ``peak_mb`` (absolute) and ``delta_mb`` (peak minus the value at start)."""
        if self.cuda:
            synchronize(self.device)
            peak = torch.cuda.max_memory_allocated(self.device)
        else:
            peak = max(self._peak, _rss_bytes())
        return dict(peak_mb=peak / 2**20, delta_mb=max(peak - self._base, 0) / 2**20)

    def close(self) -> None:
        """Stops the sampling thread."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)


def time_interleaved(fns: Dict[str, Callable[[], object]], iters: int, warmup: int, device: str,
                     memory: Optional[PeakMemory] = None) -> Dict[str, Dict[str, object]]:
    """Times several functions call by call, interleaved (A B C A B C ...).

    Args:
        fns (dict): Name -> zero-argument callable (one call = one batch).
        iters (int): Timed calls per function.
        warmup (int): Untimed calls per function first.
        device (str): Device to synchronise.
        memory (PeakMemory, optional): Records each function's peak over its timed calls.

    Returns:
        dict: Name -> ``times`` (list of seconds per call) and, with ``memory``, ``peak_mb`` /
        ``delta_mb`` (max over calls).
    """
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    synchronize(device)
    out: Dict[str, Dict[str, object]] = {name: dict(times=[]) for name in fns}
    for _ in range(max(1, iters)):
        for name, fn in fns.items():
            if memory is not None:
                memory.start()
            synchronize(device)
            t0 = time.perf_counter()
            fn()
            synchronize(device)
            out[name]['times'].append(time.perf_counter() - t0)
            if memory is not None:
                mem = memory.read()
                for key, value in mem.items():
                    out[name][key] = max(out[name].get(key, 0.0), value)
    return out


def summarize_times(times: Sequence[float], batch_size: int) -> Dict[str, float]:
    """Latency statistics (ms) and throughput (items/s from the median latency)."""
    ts = sorted(times)
    med = statistics.median(ts)

    def pct(q: float) -> float:
        return ts[min(len(ts) - 1, int(round(q * (len(ts) - 1))))]

    return dict(latency_ms_median=med * 1e3, latency_ms_p10=pct(0.1) * 1e3,
                latency_ms_p90=pct(0.9) * 1e3, latency_ms_mean=statistics.fmean(ts) * 1e3,
                throughput=batch_size / med if med > 0 else float('inf'), n=len(ts))


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


def label_modules(model: torch.nn.Module, names: Sequence[str]) -> List[object]:
    """Wraps the forward of named submodules in ``torch.profiler.record_function`` ranges.

    The profiler table then shows one row per label (``## backbone`` ...), i.e. where time goes by
    component. Missing names are skipped.

    Args:
        model (nn.Module): The model.
        names (Sequence[str]): Dotted submodule names (``'backbone'``, ``'head.body_model'``).

    Returns:
        list: Hook handles; call ``.remove()`` on each to undo.
    """
    handles = []
    modules = dict(model.named_modules())
    for name in names:
        module = modules.get(name)
        if module is None:
            continue
        stack: List[object] = []

        def pre(_m, _args, _stack=stack, _label=f'## {name}'):
            ctx = torch.profiler.record_function(_label)
            ctx.__enter__()
            _stack.append(ctx)

        def post(_m, _args, _out, _stack=stack):
            if _stack:
                _stack.pop().__exit__(None, None, None)

        handles += [module.register_forward_pre_hook(pre), module.register_forward_hook(post)]
    return handles


def profile_calls(name: str, fn: Callable[[], object], device: str, rows: int, out_dir: str) -> dict:
    """torch.profiler over 3 calls of ``fn`` (after one warm-up call).

    Writes the top-``rows`` op table (by self CUDA time on GPU, self CPU time on CPU) to
    ``out_dir/profile_<name>.txt``, prints it, and returns the per-call totals of the ``## <label>``
    ranges set by :func:`label_modules` (time per model component).

    Returns:
        dict: ``components_ms_per_call`` (label -> ``cpu_ms``, ``device_ms``) and ``table_file``.
    """
    from torch.profiler import ProfilerActivity, profile
    cuda = torch.device(device).type == 'cuda'
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    fn()
    with profile(activities=acts) as prof:
        for _ in range(3):
            fn()
        synchronize(device)
    avgs = prof.key_averages()
    table = avgs.table(sort_by='self_cuda_time_total' if cuda else 'self_cpu_time_total', row_limit=rows)
    comps = {e.key[3:]: dict(cpu_ms=e.cpu_time_total / 3e3,
                             device_ms=getattr(e, 'device_time_total', 0) / 3e3)
             for e in avgs if e.key.startswith('## ')}
    path = osp.join(out_dir, f'profile_{name}.txt')
    with open(path, 'w') as f:
        f.write(table)
    print(f'\n=== profile {name} (3 calls) ===\n{table}')
    return dict(components_ms_per_call=comps, table_file=path)


def cpu_name() -> str:
    """The CPU model name (``/proc/cpuinfo``), else ``platform.processor()``."""
    try:
        with open('/proc/cpuinfo') as f:
            return next(ln.split(':', 1)[1].strip() for ln in f if ln.startswith('model name'))
    except (OSError, StopIteration):
        import platform
        return platform.processor() or platform.machine()


# ----------------------------------------------------------------------------- analysis and report
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
        list[dict]: ``kind`` ``'time_ratio'`` (candidate/baseline median latency) or
        ``'throughput_ratio'`` (model/bare items/s), with ``name``, ``phase``, ``mode``, ``setting``,
        ``batch_size``, ``value``. Time ratios also carry ``paired_median``: the median over calls of
        the ratio of neighbouring (interleaved) calls, less sensitive to load drift (rows need ``times``).
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
