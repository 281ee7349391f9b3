"""Top-down mesh inference: build a mesh estimator and run it on image crops.

Mirrors ``mmpose.apis.init_model`` / ``mmpose.apis.inference_topdown`` without importing
``mmpose.apis`` (which imports torchvision, unavailable beside the CPU torch build used here).

Note:
    - number of person boxes: N
    - SMPL joints: 24, SMPL vertices: V = 6890
"""
import warnings
from pathlib import Path
from typing import Dict, List, Optional, Union

import cv2
import numpy as np
import torch
import torch.nn as nn
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.model.utils import revert_sync_batchnorm
from mmengine.registry import init_default_scope
from mmengine.structures import InstanceData
from mmpose.structures import PoseDataSample
from mmpose.structures.bbox import bbox_xywh2xyxy

from pmnet_plugin.utils.camera import (DEFAULT_FOCAL, crop_cam_to_full,  # noqa: F401
                                       crop_cam_to_image)
from pmnet_plugin.utils.input_checks import read_image
from pmnet_plugin.utils.tensor_utils import to_numpy  # noqa: F401  (re-exported for the demo)
from .checkpoint import load_model_checkpoint


def smpl24_metainfo() -> Dict:
    """The MMPose dataset metainfo of the 24 SMPL joints (fallback when a model has none).

    Parses the dataset-info config :class:`SMPLImageDataset` reads, ``_base_/datasets/smpl24.py`` of the
    shipped configs (in the installed package or the checkout, :func:`pmnet_plugin.utils.paths.config_path`).

    Returns:
        dict: parsed metainfo with ``skeleton_links``, ``flip_indices``, colours, ...
    """
    from mmpose.datasets.datasets.utils import parse_pose_metainfo

    from pmnet_plugin.utils.paths import config_path
    return parse_pose_metainfo(dict(from_file=config_path('_base_/datasets/smpl24.py')))


def dataset_meta_from_config(config: Config) -> Optional[Dict]:
    """Reads the dataset metainfo of ``config.test_dataloader`` (or train) if any.

    Args:
        config (Config): The model config.

    Returns:
        dict | None: parsed metainfo (``mmpose.datasets.datasets.utils.parse_pose_metainfo``)
        or ``None`` when the config names no dataset with a metainfo.
    """
    from mmpose.datasets.datasets.utils import parse_pose_metainfo
    from mmpose.registry import DATASETS
    for mode in ('test_dataloader', 'val_dataloader', 'train_dataloader'):
        try:
            dataset_cfg = config[mode]['dataset']
        except (KeyError, TypeError, AttributeError):
            continue
        try:
            if 'metainfo' in dataset_cfg and dataset_cfg['metainfo']:
                metainfo = dataset_cfg['metainfo']
            else:
                cls = dataset_cfg['type'] if isinstance(dataset_cfg['type'], type) \
                    else DATASETS.get(dataset_cfg['type'])
                metainfo = getattr(cls, 'METAINFO', None)
            if metainfo:
                return parse_pose_metainfo(dict(metainfo))
        except Exception as e:  # a broken metainfo must not stop inference
            warnings.warn(f'could not read dataset metainfo from {mode}: {e}')
    return None


def complete_dataset_meta(dataset_meta: Optional[Dict], config: Config) -> Dict:
    """The metainfo a model uses: the given one (from a checkpoint), else the config's, with the
    SMPL-24 skeleton filled in when it has none.

    Args:
        dataset_meta (dict, optional): Metainfo stored in a checkpoint.
        config (Config): The model config.

    Returns:
        dict: Metainfo with ``skeleton_links``.
    """
    if dataset_meta is None:
        dataset_meta = dataset_meta_from_config(config)
    if dataset_meta is None or not len(dataset_meta.get('skeleton_links') or []):
        links = ('skeleton_links', 'skeleton_link_colors')  # taken from SMPL-24
        dataset_meta = {**smpl24_metainfo(),
                        **{k: v for k, v in (dataset_meta or {}).items() if k not in links}}
    return dataset_meta


def init_mesh_model(config: Union[str, Path, Config],
                    checkpoint: Optional[str] = None,
                    device: str = 'cpu',
                    cfg_options: Optional[dict] = None,
                    strict: bool = True) -> nn.Module:
    """Builds a top-down mesh estimator from a config (and loads a checkpoint).

    Args:
        config (str | Path | Config): Config file or object.
        checkpoint (str, optional): Checkpoint path. ``None`` keeps the initial weights
            (backbone ``init_cfg`` is dropped so nothing is downloaded). With a checkpoint the head's
            ``mean_params`` / ``prototype_file`` / ``rarity_file`` are not read: their values are buffers
            in the checkpoint.
        device (str): Device to put the model on. Defaults to ``'cpu'``.
        cfg_options (dict, optional): Overrides merged into the config. Predictions carry their pose
            rarity (``model.test_cfg.output_rarity``, off in the configs' evaluation) unless these set it.
        strict (bool): Refuse a checkpoint whose keys or shapes differ from the model's (another head
            type or K), naming both (:func:`pmnet_plugin.apis.checkpoint.check_checkpoint_fits`).
            ``False`` loads what fits and logs a warning. Defaults to True.

    Returns:
        nn.Module: the estimator in eval mode, with ``cfg`` and ``dataset_meta`` attached
        (metainfo priority: checkpoint > config > built-in SMPL-24).
    """
    if isinstance(config, (str, Path)):
        config = Config.fromfile(str(config))
    elif not isinstance(config, Config):
        raise TypeError(f'config must be a filename or Config, got {type(config)}')
    if cfg_options:
        config.merge_from_dict(cfg_options)
    if 'model.test_cfg.output_rarity' not in (cfg_options or {}):
        config.model.setdefault('test_cfg', {})['output_rarity'] = True
    backbone = config.model.get('backbone', None)
    if backbone is not None and 'init_cfg' in backbone:
        backbone.init_cfg = None
    head = config.model.get('head', None)
    if checkpoint is not None and head is not None:
        # the checkpoint holds the mean params and prototypes (head buffers): their files are not needed
        for key in ('mean_params', 'prototype_file', 'rarity_file'):
            if key in head:
                head[key] = None
    config.model.train_cfg = None

    init_default_scope(config.get('default_scope', 'mmpose') or 'mmpose')
    from mmpose.registry import MODELS

    import pmnet_plugin  # noqa: F401  registers our components
    with warnings.catch_warnings():
        if checkpoint is not None:
            warnings.filterwarnings('ignore', message='PrototypeMemoryHead: prototype_file=None')
        model = revert_sync_batchnorm(MODELS.build(config.model))

    dataset_meta = None
    if checkpoint is not None:
        ckpt = load_model_checkpoint(model, checkpoint, strict=strict)
        dataset_meta = ckpt.get('meta', {}).get('dataset_meta', None)
    model.dataset_meta = complete_dataset_meta(dataset_meta, config)
    model.cfg = config
    model.to(device)
    model.eval()
    return model


def ensure_bgr3(img: np.ndarray) -> np.ndarray:
    """Converts a grayscale (H, W) / (H, W, 1) or BGRA (H, W, 4) uint8 image to BGR (H, W, 3)."""
    if img.ndim == 2 or (img.ndim == 3 and img.shape[2] == 1):
        return cv2.cvtColor(img.reshape(img.shape[:2]), cv2.COLOR_GRAY2BGR)
    if img.ndim == 3 and img.shape[2] == 4:
        return cv2.cvtColor(img, cv2.COLOR_BGRA2BGR)
    if img.ndim == 3 and img.shape[2] == 3:
        return img
    raise ValueError(f'unsupported image shape {img.shape}')


def _add_crop_fields(sample: PoseDataSample) -> None:
    """Copies the crop ``input_center``/``input_scale`` (1, 2) into ``pred_instances``.

    So the crop survives ``merge_data_samples`` (which keeps only the first metainfo).
    """
    inst: InstanceData = sample.pred_instances
    n = len(inst)
    for key in ('input_center', 'input_scale'):
        if key not in inst and key in sample.metainfo:
            inst.set_field(
                np.tile(np.asarray(sample.metainfo[key], np.float32).reshape(1, 2), (n, 1)),
                key)


def crop_data(model: nn.Module,
              img: Union[np.ndarray, str],
              bboxes: Optional[Union[List, np.ndarray]] = None,
              bbox_format: str = 'xyxy') -> List[dict]:
    """Runs the config's test pipeline (without ``GenerateTarget``) on the person boxes of one image.

    Args:
        model (nn.Module): Anything with ``cfg`` and ``dataset_meta`` (:func:`init_mesh_model`, or the
            ONNX Runtime backend).
        img, bboxes, bbox_format: As in :func:`inference_mesh`.

    Returns:
        list[dict]: One packed sample per box (``inputs`` (3, H, W) uint8 BGR crop, ``data_samples``).
    """
    init_default_scope(model.cfg.get('default_scope', 'mmpose') or 'mmpose')
    # GenerateTarget encodes GT labels (absent at inference): drop it, keep the rest.
    pipeline = Compose([t for t in model.cfg.test_dataloader.dataset.pipeline
                        if 'GenerateTarget' not in str(t.get('type', ''))])
    img_path = None
    if isinstance(img, (str, Path)):
        img_path = str(img)
        img = read_image(img_path)
    img = ensure_bgr3(img)
    if img.dtype != np.uint8:
        img = np.clip(img, 0, 255).astype(np.uint8)

    if bboxes is None or len(bboxes) == 0:
        h, w = img.shape[:2]
        bboxes = np.array([[0, 0, w, h]], dtype=np.float32)
    else:
        bboxes = np.asarray(bboxes, dtype=np.float32).reshape(len(bboxes), -1)
        assert bbox_format in {'xyxy', 'xywh'}, f'invalid bbox_format {bbox_format}'
        bad = np.nonzero(~np.isfinite(bboxes[:, :4]).all(1))[0]
        if bad.size:
            raise ValueError(f'bboxes rows {bad.tolist()} hold NaN/inf coordinates: drop them first '
                             '(pmnet_plugin.utils.input_checks.drop_invalid_boxes does, saying which)')
        if bbox_format == 'xywh':
            bboxes = bbox_xywh2xyxy(bboxes)

    data_list = []
    for bbox in bboxes:
        info = dict(img=img, img_path=img_path, bbox=bbox[None, :4].astype(np.float32),
                    bbox_score=np.array([bbox[4] if len(bbox) > 4 else 1.0], np.float32))
        info.update(model.dataset_meta)
        data_list.append(pipeline(info))
    return data_list


def inference_mesh(model: nn.Module,
                   img: Union[np.ndarray, str],
                   bboxes: Optional[Union[List, np.ndarray]] = None,
                   bbox_format: str = 'xyxy',
                   batch_size: int = 16) -> List[PoseDataSample]:
    """Runs a top-down mesh estimator on the person boxes of one image.

    The config's test pipeline runs without ``GenerateTarget`` (it encodes GT labels).

    Args:
        model (nn.Module): Built by :func:`init_mesh_model`, or an ONNX Runtime model
            (:func:`pmnet_plugin.apis.init_onnx_model`).
        img (np.ndarray | str): BGR image (H, W, 3) (grayscale/BGRA are converted) or a path.
        bboxes (np.ndarray | list, optional): (N, 4) boxes, or (N, 5) with scores. ``None`` or empty:
            the whole image is one box.
        bbox_format (str): ``'xyxy'`` or ``'xywh'``.
        batch_size (int): Crops per forward pass.

    Returns:
        List[PoseDataSample]: One per box, ``pred_instances`` holding (first dim 1): ``keypoints``
        (1, 24, 2) image px, ``keypoint_scores``, ``keypoints_3d`` (1, 24, 3), ``smpl_pose`` (1, 72),
        ``smpl_betas`` (1, 10), ``cam`` (1, 3), ``vertices`` (1, V, 3), ``bboxes``, ``bbox_scores``,
        ``input_center``/``input_scale`` (1, 2), ``rarity`` (1,) mm, ``rarity_percentile`` (1,), and
        for PM-Net ``proto_id``, ``proto_score``, ``proto_nearest_id``, ``proto_nearest_dist`` (1,).
    """
    data_list = crop_data(model, img, bboxes, bbox_format)
    results: List[PoseDataSample] = []
    for start in range(0, len(data_list), max(1, batch_size)):
        batch = pseudo_collate(data_list[start:start + batch_size])
        with torch.no_grad():
            results.extend(model.test_step(batch))
    for sample in results:
        _add_crop_fields(sample)
    return results
