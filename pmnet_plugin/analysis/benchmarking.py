"""Measurement for ``tools/benchmark.py``: synchronised timing, peak memory, autocast, profiles.

Every timed call is bracketed by ``torch.cuda.synchronize()``, warm-up calls are discarded and the median
is reported; :func:`time_interleaved` alternates the compared functions call by call, so load drift hits
all of them alike (``docs/benchmark.md``, "What is measured").
"""
import contextlib
import copy
import gc
import os
import os.path as osp
import statistics
import threading
import time
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import torch

__all__ = [
    'synchronize', 'autocast', 'PeakMemory', 'time_interleaved', 'summarize_times', 'label_modules',
    'profile_calls', 'cpu_name', 'bench_dataloader', 'count_ops', 'INFER_MODES'
]

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

    On CUDA the allocator's peak counter is reset at :meth:`start` (exact, tensors only). On CPU a daemon
    thread samples the process RSS every ``interval`` seconds, after a ``gc.collect()`` at :meth:`start`
    while the collector is enabled; an estimate (``docs/benchmark.md``).

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
            self.sample()
            time.sleep(self.interval)

    def sample(self) -> None:
        """Records the RSS now (CPU); the sampling thread calls it, and code may at a known peak."""
        if not self.cuda:
            self._peak = max(self._peak, _rss_bytes())

    def start(self) -> None:
        """Begins a window (resets the peak)."""
        if self.cuda:
            synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self._base = torch.cuda.memory_allocated(self.device)
        else:
            if gc.isenabled():  # garbage freed inside the window would lower the RSS under the peak
                gc.collect()
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
        memory (PeakMemory, optional): Records each function's peak over its timed calls. On CPU the
            garbage collector runs once before the timed calls and is disabled during them.

    Returns:
        dict: Name -> ``times`` (list of seconds per call) and, with ``memory``, ``peak_mb`` /
        ``delta_mb`` (max over calls).
    """
    for _ in range(warmup):
        for fn in fns.values():
            fn()
    synchronize(device)
    gc_was_enabled = gc.isenabled()
    if memory is not None and not memory.cuda:
        gc.collect()
        gc.disable()
    out: Dict[str, Dict[str, object]] = {name: dict(times=[]) for name in fns}
    try:
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
    finally:
        if gc_was_enabled:
            gc.enable()
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


def label_modules(model: torch.nn.Module, names: Sequence[str]) -> List[object]:
    """Wraps the forward of named submodules in ``torch.profiler.record_function`` ranges.

    The profiler table then has one ``## <name>`` row per component; missing names are skipped.

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


def count_ops(fn: Callable[[], object]) -> Dict[str, int]:
    """aten ops dispatched by one call of ``fn`` and how many of them read a value to the host.

    On a GPU each op is about one kernel launch and each ``_local_scalar_dense`` a device-to-host sync;
    ``tolist()`` and device-to-host copies are not seen.

    Args:
        fn (Callable): The call to count (run once).

    Returns:
        dict: ``ops`` and ``syncs``.
    """
    from torch.utils._python_dispatch import TorchDispatchMode

    class _Count(TorchDispatchMode):

        def __init__(self) -> None:
            super().__init__()
            self.ops, self.syncs = 0, 0

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            self.ops += 1
            self.syncs += func is torch.ops.aten._local_scalar_dense.default
            return func(*args, **(kwargs or {}))

    counter = _Count()
    with counter:
        fn()
    return dict(ops=counter.ops, syncs=counter.syncs)


def cpu_name() -> str:
    """The CPU model name (``/proc/cpuinfo``), else ``platform.processor()``."""
    try:
        with open('/proc/cpuinfo') as f:
            return next(ln.split(':', 1)[1].strip() for ln in f if ln.startswith('model name'))
    except (OSError, StopIteration):
        import platform
        return platform.processor() or platform.machine()


def _leaf_datasets(ds: dict):
    """The dataset configs under (nested) ``ConcatDataset`` / ``RepeatDataset`` wrappers."""
    if 'datasets' in ds:
        for d in ds['datasets']:
            yield from _leaf_datasets(d)
    elif 'dataset' in ds:
        yield from _leaf_datasets(ds['dataset'])
    else:
        yield ds


def bench_dataloader(config: str, workers: Sequence[int], batches: int, batch_size: Optional[int] = None,
                     data_root: Optional[str] = None, ann_file: Optional[str] = None, repeats: int = 1) -> dict:
    """Images/s of a config's ``train_dataloader`` for each worker count, interleaved over repeats.

    The process is set up as MMEngine's Runner sets it (``env_cfg.mp_cfg``).

    Args:
        config (str): Config file with a ``train_dataloader``.
        workers (Sequence[int]): ``num_workers`` values, one run each per repeat.
        batches (int): Batches read per run (the first one, which starts the workers, timed apart).
        batch_size (int, optional): Overrides the config's batch size.
        data_root (str, optional): Overrides every leaf dataset's ``data_root``.
        ann_file (str, optional): Overrides every leaf dataset's ``ann_file``.
        repeats (int): Rounds over ``workers``. Defaults to 1.

    Returns:
        dict: ``config``, ``runs`` (``workers``, ``batch_size``, ``batches``, ``first_batch_s``,
        ``images_per_s``, ``images_per_s_incl_first``) and ``median_images_per_s`` per worker count, or
        ``skipped`` with the reason (no training loader, missing annotation file).
    """
    from mmengine.config import Config
    from mmengine.registry import init_default_scope
    from mmengine.runner import Runner
    from mmengine.utils.dl_utils import set_multi_processing
    cfg = Config.fromfile(config)  # imports the config's custom_imports
    init_default_scope(cfg.get('default_scope', 'mmpose'))
    set_multi_processing(**cfg.get('env_cfg', {}).get('mp_cfg', {}))  # as the Runner sets it (OpenCV threads)
    dl = cfg.get('train_dataloader')
    if not dl:
        return dict(skipped=f'{config} has no train_dataloader')
    for ds in _leaf_datasets(dl['dataset']):
        if data_root:
            ds['data_root'] = data_root
        if ann_file:
            ds['ann_file'] = ann_file
        ann = osp.join(ds.get('data_root', '') or '', ds.get('ann_file', '') or '')
        if not osp.isfile(ann):
            return dict(skipped=f'offline data not found ({ann}); make it with '
                        'tools/make_synthetic_dataset.py or pass --data-root/--ann-file')
    out = dict(config=config, runs=[])
    for num_workers in [w for _ in range(repeats) for w in workers]:
        d = copy.deepcopy(dl)
        d.update(num_workers=num_workers, persistent_workers=False)
        if batch_size:
            d['batch_size'] = batch_size
        loader = Runner.build_dataloader(d)
        n = min(batches, len(loader))
        t0 = time.perf_counter()
        it = iter(loader)
        next(it)
        t1 = time.perf_counter()
        for _ in range(n - 1):
            next(it)
        t2 = time.perf_counter()
        bs = d['batch_size']
        out['runs'].append(dict(workers=num_workers, batch_size=bs, batches=n, first_batch_s=t1 - t0,
                                images_per_s=(n - 1) * bs / (t2 - t1) if n > 1 else None,
                                images_per_s_incl_first=n * bs / (t2 - t0)))
        del it, loader
    out['median_images_per_s'] = {
        w: float(np.median([r['images_per_s'] for r in out['runs'] if r['workers'] == w and r['images_per_s']]))
        for w in dict.fromkeys(workers) if any(r['workers'] == w and r['images_per_s'] for r in out['runs'])}
    return out
