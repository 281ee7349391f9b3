"""Writes the SMPL predictions of a test run to one ``.npz`` (``tools/test.py --dump preds.npz``)."""
import os.path as osp
from typing import Dict, List, Optional, Sequence

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.logging import print_log
from mmpose.registry import METRICS

from pmnet_plugin.utils.atomic_io import atomic_write
from pmnet_plugin.utils.tensor_utils import to_numpy

# prediction fields written (those a head does not produce are skipped)
DUMP_FIELDS = ('smpl_pose', 'smpl_betas', 'cam', 'keypoints_3d', 'keypoints', 'keypoint_scores',
               'proto_id', 'proto_score', 'vertices')
DUMP_META = ('img_path', 'id', 'sample_idx')


def samples_to_arrays(samples: Sequence[Dict], with_vertices: bool = False) -> Dict[str, np.ndarray]:
    """Stacks the predictions of data-sample dicts, one row per instance.

    Args:
        samples (Sequence[dict]): ``PoseDataSample.to_dict()``-style dicts with ``pred_instances``.
        with_vertices (bool): Keep ``vertices`` (N, 6890, 3). Defaults to False (large).

    Returns:
        dict[str, np.ndarray]: ``smpl_pose`` (N, 72), ``smpl_betas`` (N, 10), ... and ``img_path`` (N,).
    """
    fields = [f for f in DUMP_FIELDS if with_vertices or f != 'vertices']
    rows: Dict[str, list] = {}
    for sample in samples:
        pred = sample.get('pred_instances', {})
        num = None
        for name in fields:
            if name in pred:
                arr = to_numpy(pred[name])
                num = arr.shape[0] if num is None else num
                rows.setdefault(name, []).append(arr)
        for name in DUMP_META:
            if name in sample:
                rows.setdefault(name, []).extend([sample[name]] * (num or 1))
    return {k: (np.concatenate(v) if k in fields else np.asarray(v)) for k, v in rows.items()}


@METRICS.register_module()
class SMPLPredictionDump(BaseMetric):
    """Keeps each sample's predicted arrays in memory and writes them to ``out_file`` after the run.

    Unlike MMEngine's ``DumpResults`` (a pickle of every data sample) nothing goes through a temporary
    folder; the ``.npz`` is written to a temporary name next to ``out_file`` and renamed, so a failed write
    leaves no partial file. Reports no metric.

    Args:
        out_file (str): The ``.npz`` to write: ``smpl_pose`` (N, 72), ``smpl_betas`` (N, 10), ``cam``
            (N, 3), ``keypoints_3d`` (N, 24, 3), ``keypoints`` (N, 24, 2), ... (those the head predicts)
            plus ``img_path``, ``id``, ``sample_idx``; N = instances.
        with_vertices (bool): Also ``vertices`` (N, 6890, 3). Defaults to False.
        collect_device (str): Where results of all ranks are gathered. Defaults to ``'cpu'``.
        prefix (str, optional): Unused (no metric is reported).
    """

    def __init__(self, out_file: str, with_vertices: bool = False, collect_device: str = 'cpu',
                 prefix: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if not out_file.endswith('.npz'):
            raise ValueError(f'SMPLPredictionDump: out_file must end with .npz, got {out_file}')
        self.out_file = out_file
        self.with_vertices = with_vertices

    def process(self, data_batch, data_samples: Sequence[dict]) -> None:
        """Keeps the arrays of each sample (one result per sample, so padded samples are dropped)."""
        for sample in data_samples:
            self.results.append(samples_to_arrays([sample], self.with_vertices))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        """Writes ``out_file``; returns no metric."""
        keys = list(results[0]) if results else []
        arrays = {k: np.concatenate([r[k] for r in results]) for k in keys}

        def _write(tmp: str) -> None:
            with open(tmp, 'wb') as f:
                np.savez(f, **arrays)

        atomic_write(self.out_file, _write, 'Free disk space or choose another --dump path.')
        print_log(f'SMPL predictions of {len(arrays.get("smpl_pose", []))} instances dumped to '
                  f'{osp.abspath(self.out_file)}', logger='current')
        return {}
