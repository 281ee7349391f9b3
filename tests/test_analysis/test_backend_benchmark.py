"""Backend rows of tools/benchmark.py (demo path per inference backend); no timing assertions."""
import os.path as osp
import sys

import pytest
import torch

from pmnet_plugin.analysis.backend_benchmark import (backend_ratios, backends_markdown,
                                                     measure_backends)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
sys.path.insert(0, osp.join(REPO, 'tests', 'test_apis'))
from mesh_model_setup import mesh_config  # noqa: E402


def _row(backend, ms, bs=1):
    return dict(model='pmnet', backend=backend, batch_size=bs, input_size=(96, 96), latency_ms_median=ms,
                throughput=bs / ms * 1e3, times=[ms / 1e3] * 3)


def test_ratios_and_table_from_rows():
    rows = [_row('eager', 30.0), _row('onnxruntime', 15.0),
            dict(model='pmnet', backend='compile', batch_size=1, input_size=(96, 96), failed='RuntimeError: x')]
    ratios = backend_ratios(rows)
    assert [(r['backend'], r['value'], r['paired_median']) for r in ratios] == [
        ('onnxruntime', pytest.approx(2.0), pytest.approx(2.0))]
    text = backends_markdown(rows, ratios)
    assert 'failed: RuntimeError: x' in text and 'onnxruntime/eager' in text and '96x96' in text


@pytest.mark.slow
def test_measure_eager_and_onnxruntime_on_a_small_model(body_model_files, tmp_path):
    from pmnet_plugin.apis import init_mesh_model
    torch.manual_seed(0)
    model = init_mesh_model(mesh_config(body_model_files))
    rows = measure_backends(dict(pmnet=model), ['eager', 'onnxruntime'], [1, 2], iters=1, warmup=0,
                            work_dir=str(tmp_path))
    assert [(r['backend'], r['batch_size']) for r in rows] == [
        ('eager', 1), ('onnxruntime', 1), ('eager', 2), ('onnxruntime', 2)]
    assert all('failed' not in r and r['throughput'] > 0 and r['input_size'] == (96, 96) for r in rows)
    assert osp.isfile(tmp_path / 'pmnet_demo.onnx')  # exported once, reused for both batch sizes
    bogus = measure_backends(dict(pmnet=model), ['eager', 'tensorrt'], [1], iters=1, warmup=0,
                             work_dir=str(tmp_path))
    assert [r['backend'] for r in bogus if 'failed' in r] == ['tensorrt']
