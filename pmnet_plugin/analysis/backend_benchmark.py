"""Crops/s of the demo's model call per inference backend: PyTorch eager, ``torch.compile``, ONNX Runtime.

Each backend runs :class:`pmnet_plugin.apis.MeshExportModule` with the SMPL layer on packed crops, timed
interleaved in one run; a backend that fails gets a row with its error (``docs/benchmark.md``).
"""
import os
import os.path as osp
from typing import Callable, Dict, List, Sequence, Tuple

import torch

from .benchmark_report import markdown_table
from .benchmarking import summarize_times, time_interleaved

__all__ = ['BACKENDS', 'backend_fns', 'measure_backends', 'backend_ratios', 'backends_markdown']

BACKENDS = ('eager', 'compile', 'onnxruntime')


def _error(e: BaseException) -> str:
    text = f'{type(e).__name__}: {e}'.strip().splitlines()
    return text[0][:300] if text else type(e).__name__


def backend_fns(name: str, model: torch.nn.Module, x: torch.Tensor, backends: Sequence[str],
                onnx_file: str) -> Tuple[Dict[Tuple[str, str], Callable[[], object]], Dict[str, str]]:
    """Zero-argument callables running ``model``'s demo path on ``x`` with each backend.

    Each is called once here; a backend whose first call (compilation, export, session) fails is left out.

    Args:
        name (str): Model name (the first part of the keys).
        model (nn.Module): ``TopdownMeshEstimator`` in eval mode.
        x (Tensor): Crops (B, 3, H, W), BGR 0..255.
        backends (Sequence[str]): Subset of :data:`BACKENDS`.
        onnx_file (str): Where to export the graph (made once, dynamic batch, reused).

    Returns:
        tuple: ``{(name, backend): fn}`` and ``{backend: error}``.
    """
    from pmnet_plugin.apis.onnx_backend import MeshExportModule, OnnxMeshSession, export_onnx
    module = MeshExportModule(model, with_smpl=True).eval()
    fns, errors = {}, {}

    def torch_fn(m):
        def fn():
            with torch.no_grad():
                return m(x)
        return fn

    for backend in backends:
        try:
            if backend == 'eager':
                fn = torch_fn(module)
            elif backend == 'compile':
                fn = torch_fn(torch.compile(module))
            elif backend == 'onnxruntime':
                if not osp.isfile(onnx_file):
                    os.makedirs(osp.dirname(osp.abspath(onnx_file)), exist_ok=True)
                    export_onnx(model, onnx_file, x, with_smpl=True, dynamic_batch=True)
                session = OnnxMeshSession(onnx_file, num_threads=torch.get_num_threads())
                inputs = x.numpy()

                def fn(session=session, inputs=inputs):
                    return session.run(inputs)
            else:
                raise ValueError(f'unknown backend {backend!r}; choose from {BACKENDS}')
            fn()
            fns[(name, backend)] = fn
        except Exception as e:  # a failing backend is a result of the benchmark, not a crash
            errors[backend] = _error(e)
    return fns, errors


def measure_backends(models: Dict[str, torch.nn.Module], backends: Sequence[str],
                     batch_sizes: Sequence[int], iters: int, warmup: int, work_dir: str) -> List[dict]:
    """Times every backend of every model at each batch size (interleaved per batch size).

    Args:
        models (dict): Name -> ``TopdownMeshEstimator`` (eval).
        backends (Sequence[str]): Subset of :data:`BACKENDS`.
        batch_sizes (Sequence[int]): Crops per call.
        iters (int): Timed calls per backend (median reported).
        warmup (int): Untimed calls first.
        work_dir (str): Folder for the exported graphs.

    Returns:
        list[dict]: Rows ``model``, ``backend``, ``batch_size``, ``input_size``, and either the
        :func:`summarize_times` statistics (``throughput`` = crops/s) and ``times``, or ``failed``.
    """
    rows = []
    for bs in batch_sizes:
        fns, sizes = {}, {}
        for name, model in models.items():
            w, h = model.head.input_size
            sizes[name] = (w, h)
            x = torch.rand(bs, 3, h, w, generator=torch.Generator().manual_seed(bs)) * 255
            f, errors = backend_fns(name, model, x, backends, osp.join(work_dir, f'{name}_demo.onnx'))
            fns.update(f)
            rows += [dict(model=name, backend=b, batch_size=bs, input_size=sizes[name], failed=err)
                     for b, err in errors.items()]
        for (name, backend), t in time_interleaved(fns, iters, warmup, 'cpu').items():
            rows.append(dict(model=name, backend=backend, batch_size=bs, input_size=sizes[name],
                             **summarize_times(t['times'], bs), times=t['times']))
    order = {b: i for i, b in enumerate(BACKENDS)}
    return sorted(rows, key=lambda r: (r['model'], r['batch_size'], order.get(r['backend'], 99)))


def backend_ratios(rows: List[dict]) -> List[dict]:
    """Throughput of each backend over eager PyTorch, per model and batch size (same run).

    Returns:
        list[dict]: ``model``, ``batch_size``, ``backend``, ``value`` (crops/s ratio) and
        ``paired_median`` (median over calls of eager time / backend time of neighbouring calls).
    """
    import statistics
    out = []
    for r in rows:
        if r['backend'] == 'eager' or 'failed' in r:
            continue
        ref = [e for e in rows if e['backend'] == 'eager' and 'failed' not in e
               and e['model'] == r['model'] and e['batch_size'] == r['batch_size']]
        if not ref:
            continue
        paired = [te / tb for te, tb in zip(ref[0]['times'], r['times'])]
        out.append(dict(model=r['model'], batch_size=r['batch_size'], backend=r['backend'],
                        value=r['throughput'] / ref[0]['throughput'],
                        paired_median=statistics.median(paired) if paired else None))
    return out


def backends_markdown(rows: List[dict], ratios: List[dict]) -> str:
    """Markdown section: crops/s per backend and the ratios over eager."""
    table = [[r['model'], f'{r["input_size"][0]}x{r["input_size"][1]}', r['batch_size'], r['backend'],
              '-' if 'failed' in r else r['latency_ms_median'], '-' if 'failed' in r else r['throughput'],
              'failed: ' + r['failed'] if 'failed' in r else 'ok'] for r in rows]
    lines = ['## Inference backends (demo path: preprocessing + model + SMPL + rarity)', '',
             markdown_table(['model', 'input', 'batch', 'backend', 'median ms', 'crops/s', 'result'], table)]
    if ratios:
        lines += ['', markdown_table(['model', 'batch', 'ratio', 'crops/s ratio', 'paired'],
                                     [[r['model'], r['batch_size'], f'{r["backend"]}/eager', r['value'],
                                       r['paired_median'] if r['paired_median'] is not None else '-']
                                      for r in ratios])]
    return '\n'.join(lines) + '\n'
