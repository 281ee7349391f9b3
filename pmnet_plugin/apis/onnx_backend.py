"""ONNX export of a top-down mesh estimator and an ONNX Runtime backend for :func:`inference_mesh`.

:class:`MeshExportModule` (preprocessing, backbone, neck, head and optionally the SMPL layer and rarity)
takes the crops as the test pipeline packs them; :class:`OnnxMeshModel` runs its graph behind the
``test_step`` interface of :func:`inference_mesh` (``docs/deploy.md``).

Note:
    - batch size: B
    - crop size: H, W
    - vertices: V
"""
import contextlib
import json
import os.path as osp
import warnings
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
from mmengine.config import Config
from torch import Tensor, nn

from pmnet_plugin.utils.rotation import matrix_to_axis_angle

__all__ = ['MeshExportModule', 'export_onnx', 'compare_outputs', 'OnnxMeshSession', 'OnnxMeshModel',
           'init_onnx_model', 'ONNX_META_KEY']

ONNX_META_KEY = 'pmnet_plugin'
INPUT_NAME = 'inputs'
ID_OUTPUTS = ('proto_id', 'proto_nearest_id')
METRE_OUTPUTS = ('keypoints_3d', 'vertices', 'keypoints_3d_h36m')


class MeshExportModule(nn.Module):
    """A mesh estimator as one tensor-in, tensors-out module (what gets exported).

    Args:
        estimator (nn.Module): ``TopdownMeshEstimator`` in eval mode.
        with_smpl (bool): Run the SMPL layer: outputs of ``head.predict_outputs`` (joints, vertices,
            2D keypoints, rarity). Without it: ``smpl_pose``, ``smpl_betas``, ``cam`` and the
            PM-Net prototype outputs only. Defaults to True.
        output_vertices (bool): Include ``vertices`` (B, V, 3) when ``with_smpl``. Defaults to True.
    """

    def __init__(self, estimator: nn.Module, with_smpl: bool = True, output_vertices: bool = True):
        super().__init__()
        self.estimator = estimator
        self.with_smpl = with_smpl
        self.test_cfg = dict(output_vertices=output_vertices, output_rarity=True)
        dp = estimator.data_preprocessor
        self.bgr_to_rgb = bool(getattr(dp, '_channel_conversion', False))
        normalize = bool(getattr(dp, '_enable_normalize', False))
        self.register_buffer('mean', dp.mean.detach().clone().float().reshape(1, -1, 1, 1) if normalize
                             else torch.zeros(1, 1, 1, 1), persistent=False)
        self.register_buffer('std', dp.std.detach().clone().float().reshape(1, -1, 1, 1) if normalize
                             else torch.ones(1, 1, 1, 1), persistent=False)

    def outputs(self, inputs: Tensor) -> Dict[str, Tensor]:
        """Named outputs.

        Args:
            inputs (Tensor): Crops as packed by the test pipeline, shape (B, 3, H, W), BGR 0..255.

        Returns:
            dict: See ``HMRHead.predict_outputs`` (``with_smpl``) or the class docstring.
        """
        x = inputs.float()
        if self.bgr_to_rgb:
            x = x[:, [2, 1, 0]]
        x = (x - self.mean) / self.std
        feats = self.estimator.extract_feat(x)
        head = self.estimator.head
        if self.with_smpl:
            return head.predict_outputs(feats, self.test_cfg)
        preds = head.forward(feats)
        out = dict(smpl_pose=matrix_to_axis_angle(preds['smpl_pose_rotmat']).reshape(x.shape[0], -1),
                   smpl_betas=preds['smpl_betas'], cam=preds['cam'])
        out.update(head._predict_extras(preds, True))
        return out

    def forward(self, inputs: Tensor) -> Tuple[Tensor, ...]:
        """The outputs of :meth:`outputs` as a tuple, in the order of :meth:`output_names`."""
        return tuple(self.outputs(inputs).values())

    def output_names(self, inputs: Tensor) -> List[str]:
        """Names of the outputs, in order (one eager call on ``inputs``)."""
        with torch.no_grad():
            return list(self.outputs(inputs).keys())


@contextlib.contextmanager
def _no_finite_checks(model: nn.Module) -> Iterator[None]:
    """Turns off ``SMPLBodyModel.check_finite`` (a data-dependent Python branch) while tracing."""
    bodies = [m for m in model.modules() if hasattr(m, 'check_finite')]
    saved = [m.check_finite for m in bodies]
    for m in bodies:
        m.check_finite = False
    try:
        yield
    finally:
        for m, v in zip(bodies, saved):
            m.check_finite = v


def _faces(model: nn.Module) -> Optional[np.ndarray]:
    body = getattr(model.head, 'body_model', None)
    return None if body is None else np.asarray(body.faces, np.int64)


def export_onnx(model: nn.Module, out_file: str, example: Tensor, with_smpl: bool = True,
                dynamic_batch: bool = False, opset: int = 17) -> Dict:
    """Exports :class:`MeshExportModule` of ``model`` with the TorchScript-based ``torch.onnx`` exporter.

    Args:
        model (nn.Module): ``TopdownMeshEstimator`` (put in eval mode here).
        out_file (str): Output ``.onnx``.
        example (Tensor): Example crops (B, 3, H, W) (their batch size is the fixed one unless
            ``dynamic_batch``).
        with_smpl (bool): Export the SMPL layer and the rarity too. Defaults to True.
        dynamic_batch (bool): Batch dimension symbolic (``'batch'``). Defaults to False.
        opset (int): ONNX opset. Defaults to 17.

    Returns:
        dict: The metadata stored in the file under :data:`ONNX_META_KEY` (JSON): ``output_names``,
        ``input_shape`` (batch -1 when dynamic), ``with_smpl``, ``head``, ``rarity_percentiles``
        (bool), and ``faces`` (F, 3) with SMPL.
    """
    import onnx
    model.eval()
    module = MeshExportModule(model, with_smpl=with_smpl).eval()
    example = example.float()
    names = module.output_names(example)
    axes = None
    if dynamic_batch:
        axes = {name: {0: 'batch'} for name in [INPUT_NAME] + names}
    with _no_finite_checks(model), torch.no_grad(), warnings.catch_warnings():
        # shape checks of the body model and constant tensors are traced as constants, as intended
        warnings.simplefilter('ignore', torch.jit.TracerWarning)
        warnings.filterwarnings('ignore', message='Constant folding - Only steps=1')  # strided slices
        torch.onnx.export(module, (example, ), out_file, input_names=[INPUT_NAME], output_names=names,
                          dynamic_axes=axes, opset_version=opset, do_constant_folding=True,
                          dynamo=False)
    shape = list(example.shape)
    if dynamic_batch:
        shape[0] = -1
    scorer = getattr(model.head, 'rarity_scorer', None)
    meta = dict(output_names=names, input_shape=shape, with_smpl=with_smpl, opset=opset,
                head=type(model.head).__name__, bgr_to_rgb=module.bgr_to_rgb,
                rarity_percentiles=bool(scorer is not None and scorer.has_percentiles))
    faces = _faces(model) if with_smpl else None
    if faces is not None:
        meta['faces'] = faces.tolist()
    proto = onnx.load(out_file)
    entry = proto.metadata_props.add()
    entry.key, entry.value = ONNX_META_KEY, json.dumps(meta)
    onnx.save(proto, out_file)
    return meta


def compare_outputs(reference: Dict[str, np.ndarray], candidate: Dict[str, np.ndarray],
                    metre_tol: float = 1e-4, other_tol: float = 1e-3) -> Dict[str, Dict]:
    """Compares two sets of named outputs (PyTorch vs ONNX Runtime); every output is checked.

    Args:
        reference (dict): Name -> array (B, ...).
        candidate (dict): The same names (a name missing from either side raises ``KeyError``).
        metre_tol (float): Tolerance of the outputs in metres (:data:`METRE_OUTPUTS`). Defaults to 1e-4.
        other_tol (float): Tolerance of every other output (radians, shape coefficients, camera, pixels,
            rarity), absolute up to magnitude 1 and relative above: ``|diff| <= other_tol * max(1, |ref|)``.
            Defaults to 1e-3.

    Returns:
        dict: Name -> ``max_abs_diff`` (float; for ids: the number of differing ids), ``kind``
        (``'metres'``, ``'ids'`` or ``'other'``) and ``ok`` (metres: below ``metre_tol``; ids: all
        equal; other: within ``other_tol``). NaN on both sides counts as equal.
    """
    extra = sorted(set(candidate) - set(reference))
    if extra:
        raise KeyError(f'outputs {extra} of the candidate have no reference output')
    report = {}
    for name, ref in reference.items():
        if name not in candidate:
            raise KeyError(f'output {name!r} missing from the candidate outputs')
        ref, got = np.asarray(ref), np.asarray(candidate[name])
        if ref.shape != got.shape:
            raise ValueError(f'output {name!r}: shape {got.shape} != reference {ref.shape}')
        if name in ID_OUTPUTS:
            diff = int((np.rint(ref).astype(np.int64) != np.rint(got).astype(np.int64)).sum())
            report[name] = dict(max_abs_diff=diff, kind='ids', ok=diff == 0)
            continue
        ref64, got64 = ref.astype(np.float64), got.astype(np.float64)
        both_nan = np.isnan(ref64) & np.isnan(got64)
        delta = np.nan_to_num(np.where(both_nan, 0.0, np.abs(ref64 - got64)), nan=np.inf)
        diff = float(delta.max()) if delta.size else 0.0
        if name in METRE_OUTPUTS:
            report[name] = dict(max_abs_diff=diff, kind='metres', ok=diff < metre_tol)
        else:
            scale = np.maximum(1.0, np.nan_to_num(np.abs(ref64), nan=1.0, posinf=1.0))
            ok = bool((delta <= other_tol * scale).all()) if delta.size else True
            report[name] = dict(max_abs_diff=diff, kind='other', ok=ok)
    return report


class OnnxMeshSession:
    """An ONNX Runtime session of a graph written by :func:`export_onnx`, with its metadata.

    A graph exported without ``--dynamic-batch`` is run in chunks of its batch size (the last one
    padded).

    Args:
        onnx_file (str): Written by ``tools/export_onnx.py``.
        num_threads (int, optional): ONNX Runtime intra-op threads; default: its own choice.
        providers (Sequence[str]): Execution providers. Defaults to CPU.
    """

    def __init__(self, onnx_file: str, num_threads: Optional[int] = None,
                 providers: Sequence[str] = ('CPUExecutionProvider', )) -> None:
        import onnxruntime as ort
        if not osp.isfile(onnx_file):
            raise FileNotFoundError(f'ONNX model not found: {onnx_file}; export one with '
                                    'tools/export_onnx.py CONFIG CHECKPOINT --out model.onnx --with-smpl')
        options = ort.SessionOptions()
        if num_threads:
            options.intra_op_num_threads = int(num_threads)
        self.onnx_file = onnx_file
        self.session = ort.InferenceSession(onnx_file, options, providers=list(providers))
        raw = self.session.get_modelmeta().custom_metadata_map.get(ONNX_META_KEY)
        if raw is None:
            raise ValueError(f'{onnx_file} has no "{ONNX_META_KEY}" metadata: it was not written by '
                             'tools/export_onnx.py; re-export it with that tool')
        self.meta = json.loads(raw)
        self.output_names = list(self.meta['output_names'])
        batch, _, h, w = self.meta['input_shape']
        self.fixed_batch = None if batch < 0 else int(batch)
        self.input_size = (int(w), int(h))

    def run(self, inputs: np.ndarray) -> Dict[str, np.ndarray]:
        """Runs the graph on crops (B, 3, H, W) float32, in chunks for a fixed-batch graph.

        Returns:
            dict: Output name -> array (B, ...).
        """
        inputs = np.ascontiguousarray(inputs, dtype=np.float32)
        n = len(inputs)
        step = self.fixed_batch or max(n, 1)
        chunks = []
        for s in range(0, n, step):
            x = inputs[s:s + step]
            k = len(x)
            if self.fixed_batch and k < step:
                x = np.concatenate([x, np.repeat(x[-1:], step - k, axis=0)])
            outs = self.session.run(self.output_names, {INPUT_NAME: x})
            chunks.append([o[:k] for o in outs])
        return {name: np.concatenate([c[i] for c in chunks]) for i, name in enumerate(self.output_names)}


class OnnxMeshModel(OnnxMeshSession):
    """An exported mesh estimator run by ONNX Runtime, usable wherever :func:`inference_mesh` takes a model.

    It has ``cfg``, ``dataset_meta``, ``faces`` and ``test_step``; predictions are packed by the functions of
    the PyTorch estimator, so results have the same fields.

    Args:
        onnx_file (str): Exported with ``tools/export_onnx.py --with-smpl``.
        config (Config): The model config (test pipeline, metainfo).
        num_threads (int, optional): ONNX Runtime intra-op threads; default: its own choice.
        providers (Sequence[str]): Execution providers. Defaults to CPU.
    """

    def __init__(self, onnx_file: str, config: Config, num_threads: Optional[int] = None,
                 providers: Sequence[str] = ('CPUExecutionProvider', )) -> None:
        super().__init__(onnx_file, num_threads, providers)
        if not self.meta['with_smpl']:
            raise ValueError(f'{onnx_file} was exported without the SMPL layer; the inference backend '
                             'needs vertices and joints: re-export with tools/export_onnx.py --with-smpl')
        from pmnet_plugin.codecs.smpl_label import SMPLLabelCodec
        from .inference import complete_dataset_meta
        self.cfg = config
        self.decoder = SMPLLabelCodec(input_size=self.input_size)  # the graph's crop size
        self.faces = np.asarray(self.meta['faces'], np.int64)
        self.dataset_meta = complete_dataset_meta(None, config)

    def test_step(self, data: Dict) -> List:
        """Predicts a ``pseudo_collate``-d batch of the test pipeline, like ``BaseModel.test_step``.

        Args:
            data (dict): ``inputs`` (list of (3, H, W) crops) and ``data_samples``.

        Returns:
            List[PoseDataSample]: With ``pred_instances`` as the PyTorch estimator sets them.
        """
        from pmnet_plugin.models.heads.mesh_outputs import outputs_to_instances
        from pmnet_plugin.models.pose_estimators.topdown_mesh import attach_mesh_predictions
        inputs = np.stack([np.asarray(x.cpu().numpy() if torch.is_tensor(x) else x, np.float32)
                           for x in data['inputs']])
        outs = {k: v.astype(np.float32) for k, v in self.run(inputs).items()}
        samples = data['data_samples']
        return attach_mesh_predictions(outputs_to_instances(outs, samples, self.decoder), samples)


def init_onnx_model(config: Union[str, Config], onnx_file: str, num_threads: Optional[int] = None,
                    cfg_options: Optional[dict] = None) -> OnnxMeshModel:
    """Builds the ONNX Runtime backend from a config and an exported model (cf. ``init_mesh_model``).

    Args:
        config (str | Config): Model config (its test pipeline prepares the crops).
        onnx_file (str): ``tools/export_onnx.py --with-smpl`` output.
        num_threads (int, optional): ONNX Runtime intra-op threads.
        cfg_options (dict, optional): Overrides merged into the config.

    Returns:
        OnnxMeshModel: Ready for :func:`inference_mesh`.
    """
    from mmengine.registry import init_default_scope
    if not isinstance(config, Config):
        config = Config.fromfile(str(config))
    if cfg_options:
        config.merge_from_dict(cfg_options)
    init_default_scope(config.get('default_scope', 'mmpose') or 'mmpose')
    import pmnet_plugin  # noqa: F401  registers the pipeline transforms
    return OnnxMeshModel(onnx_file, config, num_threads=num_threads)
