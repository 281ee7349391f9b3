"""Batched labels in, batched predictions out: the host/device boundary of the mesh heads."""
from typing import Dict, List, Tuple

import numpy as np
import torch
from mmengine.structures import InstanceData
from mmpose.utils.typing import OptSampleList
from torch import Tensor

from pmnet_plugin.codecs.smpl_label import SMPLLabelCodec


def stack_label(values: List, shape: Tuple[int, ...], device) -> Tensor:
    """Stacks one label of every sample (arrays or tensors, ``None`` where missing) to ``shape`` float32
    on ``device``, with one host-to-device copy for host arrays."""
    present = [v for v in values if v is not None]
    if not present:
        return torch.zeros(shape, device=device)
    row = shape[1:]
    if len(present) < len(values):  # fill the missing rows with zeros of the same kind
        zero = (torch.zeros(row, dtype=present[0].dtype, device=present[0].device)
                if isinstance(present[0], Tensor) else np.zeros(row, np.float32))
        values = [zero if v is None else v for v in values]
    if all(isinstance(v, Tensor) for v in values):
        return torch.stack([v.reshape(row) for v in values]).to(device=device, dtype=torch.float32)
    host = np.stack([np.asarray(v.cpu() if isinstance(v, Tensor) else v, np.float32).reshape(row)
                     for v in values])
    return torch.from_numpy(host).to(device=device, non_blocking=True)


def outputs_to_host(outputs: Dict[str, Tensor]) -> Dict[str, np.ndarray]:
    """Float32 NumPy copies of batched outputs, in one device-to-host transfer.

    Args:
        outputs (dict): Tensors (B, ...) on one device; integer tensors keep their dtype.

    Returns:
        dict: Arrays of the same shapes.
    """
    if not outputs:
        return {}
    floats = {k: v for k, v in outputs.items() if torch.is_floating_point(v)}
    out = {k: v.detach().cpu().numpy() for k, v in outputs.items() if k not in floats}
    if floats:
        B = next(iter(floats.values())).shape[0]
        flat = torch.cat([v.detach().float().reshape(B, -1) for v in floats.values()], dim=1).cpu().numpy()
        start = 0
        for k, v in floats.items():
            width = int(np.prod(v.shape[1:]))
            out[k] = flat[:, start:start + width].reshape(v.shape)
            start += width
    return {k: out[k] for k in outputs}


def outputs_to_instances(outputs: Dict[str, np.ndarray], batch_data_samples: OptSampleList,
                         decoder: SMPLLabelCodec) -> List[InstanceData]:
    """Splits batched prediction arrays into one ``InstanceData`` per sample, decoding the 2D joints.

    Shared by :meth:`HMRHead.predict` and the ONNX Runtime backend (``pmnet_plugin.apis``).

    Args:
        outputs (dict): Arrays (B, ...) of :meth:`HMRHead.predict_outputs`, incl. ``keypoints_crop``.
        batch_data_samples (List[PoseDataSample]): A sample's ``input_size`` metainfo (the crop it was cut
            at) takes precedence over the decoder's.
        decoder (SMPLLabelCodec): Maps ``keypoints_crop`` ([-1, 1]) to input px.

    Returns:
        List[InstanceData]: ``keypoints`` (1, 24, 2) input px, ``keypoint_scores`` (1, 24) and the other
        arrays with first dim 1.
    """
    keypoints_crop = outputs['keypoints_crop']
    sizes = [tuple(d.metainfo.get('input_size', decoder.input_size)) for d in batch_data_samples]
    keypoints = np.empty(keypoints_crop.shape, np.float32)
    scores = np.empty(keypoints_crop.shape[:2], np.float32)
    for size in set(sizes):  # one decode per crop size (one in a batch of a config)
        rows = np.array([s == size for s in sizes])
        codec = decoder if size == tuple(decoder.input_size) else SMPLLabelCodec(input_size=size)
        keypoints[rows], scores[rows] = codec.decode(keypoints_crop[rows])
    fields = dict(keypoints=keypoints, keypoint_scores=scores,
                  **{k: v for k, v in outputs.items() if k != 'keypoints_crop'})
    results = []
    for i in range(len(batch_data_samples)):
        inst = InstanceData()
        for k, v in fields.items():
            inst.set_field(v[i:i + 1], k)
        results.append(inst)
    return results
