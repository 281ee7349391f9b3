"""Batch collation that sends each batch from a loader worker as one image tensor plus plain arrays."""
from typing import Sequence

import torch
from mmengine.dataset import pseudo_collate
from mmengine.registry import FUNCTIONS


@FUNCTIONS.register_module()
def mesh_collate(data_batch: Sequence[dict]) -> dict:
    """MMEngine's ``pseudo_collate`` with the crops stacked and the training labels as NumPy arrays.

    A loader worker then sends one shared-memory tensor per batch instead of ``1 + L`` per sample,
    whose transfer cost more than the pipeline (``docs/experiments/benchmark_log.md``). Heads read either form.

    Args:
        data_batch (Sequence[dict]): Pipeline outputs with ``inputs`` (C, H, W) of one shape and
            ``data_samples``.

    Returns:
        dict: ``inputs`` (B, C, H, W) and ``data_samples`` (list of ``PoseDataSample``).
    """
    batch = pseudo_collate(data_batch)
    inputs = batch.get('inputs')
    if isinstance(inputs, list) and inputs and all(torch.is_tensor(x) for x in inputs) \
            and len({tuple(x.shape) for x in inputs}) == 1:
        batch['inputs'] = torch.stack(inputs)
    for sample in batch.get('data_samples', []):
        labels = getattr(sample, 'gt_instance_labels', None)
        if labels is None:
            continue
        for key in list(labels.keys()):
            value = labels.get(key)
            if torch.is_tensor(value):
                labels.set_field(value.numpy(), key)
    return batch
