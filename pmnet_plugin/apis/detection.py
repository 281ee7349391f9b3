"""Person detection with an MMDetection model, built through mmdet's registries.

Mirrors ``mmdet.apis.init_detector`` + ``inference_detector`` (``mmdet.apis`` does import
here without torchvision, checked with mmdet 3.3.0) but builds the model and its test pipeline
once through ``mmdet.registry`` inside ``DefaultScope.overwrite_default_scope('mmdet')``, so the
``mmpose`` default scope of the mesh model is left untouched between calls.

Note:
    - number of detections: N
"""
import importlib.util
import logging
import os.path as osp
from pathlib import Path
from typing import Optional, Union

import numpy as np
import torch
from mmengine.config import Config
from mmengine.dataset import Compose, pseudo_collate
from mmengine.registry import DefaultScope

DEFAULT_DET_CONFIG = 'rtmdet/rtmdet_tiny_8xb32-300e_coco.py'


class MissingCheckpointError(FileNotFoundError):
    """Raised when a detector checkpoint is needed but absent; the message says where to get it."""


def mmdet_config_path(rel_path: str = DEFAULT_DET_CONFIG) -> str:
    """Absolute path of a config shipped inside mmdet's package (``mmdet/.mim/configs``).

    Args:
        rel_path (str): path relative to mmdet's ``configs`` folder, or any existing file.

    Returns:
        str: the path (existing files are returned unchanged).
    """
    if osp.isfile(rel_path):
        return rel_path
    spec = importlib.util.find_spec('mmdet')
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f'{rel_path}: not a file and mmdet is not installed')
    root = osp.join(list(spec.submodule_search_locations)[0], '.mim', 'configs')
    path = osp.join(root, rel_path)
    if not osp.isfile(path):
        raise FileNotFoundError(f'detector config {rel_path} not found (looked in {root})')
    return path


def checkpoint_url(config_path: str) -> Optional[str]:
    """The published checkpoint URL of a config, read from the ``metafile.yml`` beside it.

    Args:
        config_path (str): a config file inside an OpenMMLab ``configs/<algo>/`` folder.

    Returns:
        str | None: the ``Weights`` URL, or ``None`` when no metafile lists this config.
    """
    import yaml
    meta = osp.join(osp.dirname(config_path), 'metafile.yml')
    if not osp.isfile(meta):
        return None
    with open(meta) as f:
        data = yaml.safe_load(f) or {}
    name = osp.basename(config_path)
    for model in data.get('Models', []) or []:
        if osp.basename(str(model.get('Config', ''))) == name and model.get('Weights'):
            return str(model['Weights'])
    return None


def missing_checkpoint_message(config_path: str, checkpoint: Optional[str]) -> str:
    """Explains which detector checkpoint is needed, where it is published, and the options."""
    url = checkpoint_url(config_path)
    what = f'the checkpoint {checkpoint!r} does not exist' if checkpoint else \
        'no detector checkpoint was given (--det-checkpoint)'
    lines = [f'Person detection needs trained weights for {config_path}: {what}.']
    if url:
        lines.append(f'Download {osp.basename(url)} from {url} and pass '
                     f'--det-checkpoint <path to {osp.basename(url)}>.')
    else:
        lines.append('No metafile.yml beside the config lists its weights; pass the '
                     'checkpoint that matches the config with --det-checkpoint.')
    lines.append('Without a detector, use --bbox-file <boxes.json> (COCO-style boxes) or '
                 '--whole-image (one box = the whole image).')
    return '\n'.join(lines)


class PersonDetector:
    """An MMDetection detector that returns person boxes.

    Args:
        config (str | Path | Config): detector config (a file, or a path relative to mmdet's
            packaged ``configs`` folder).
        checkpoint (str, optional): detector weights. Required unless ``allow_random_init``.
        device (str): Defaults to ``'cpu'``.
        allow_random_init (bool): build without weights (tests only).
        cat_id (int): category kept (COCO person = 0).
    """

    def __init__(self,
                 config: Union[str, Path, Config] = DEFAULT_DET_CONFIG,
                 checkpoint: Optional[str] = None,
                 device: str = 'cpu',
                 allow_random_init: bool = False,
                 cat_id: int = 0):
        if not isinstance(config, Config):
            config_path = mmdet_config_path(str(config))
            config = Config.fromfile(config_path)
        else:
            config_path = config.filename or '<config>'
        if (checkpoint is None or not osp.isfile(checkpoint)) and not allow_random_init:
            raise MissingCheckpointError(missing_checkpoint_message(config_path, checkpoint))
        self.cat_id = cat_id
        self.device = device
        config.model.pop('train_cfg', None)
        backbone = config.model.get('backbone', None)
        if backbone is not None and 'init_cfg' in backbone:
            backbone.init_cfg = None  # never download ImageNet weights
        pipeline = [dict(t) for t in config.test_dataloader.dataset.pipeline
                    if 'LoadAnnotations' not in str(t['type'])]
        pipeline[0] = dict(type='mmdet.LoadImageFromNDArray')
        with DefaultScope.overwrite_default_scope('mmdet'):
            from mmdet.registry import MODELS
            from mmengine.runner import load_checkpoint
            self.model = MODELS.build(config.model)
            if checkpoint is not None and osp.isfile(checkpoint):
                load_checkpoint(self.model, checkpoint, map_location='cpu')
            else:  # random weights (tests): the detector's own init (e.g. score bias priors)
                logging.disable(logging.INFO)  # init_weights logs every parameter
                try:
                    self.model.init_weights()
                finally:
                    logging.disable(logging.NOTSET)
            self.pipeline = Compose(pipeline)
        self.model.to(device).eval()
        self.cfg = config

    def __call__(self, img: np.ndarray, score_thr: float = 0.5,
                 max_persons: Optional[int] = None) -> np.ndarray:
        """Detects people.

        Args:
            img (np.ndarray): BGR image (H, W, 3) uint8.
            score_thr (float): minimum score kept.
            max_persons (int, optional): keep at most this many (highest scores).

        Returns:
            np.ndarray: (N, 5) float32 ``x1, y1, x2, y2, score`` in image px, by score.
        """
        with DefaultScope.overwrite_default_scope('mmdet'):
            data = self.pipeline(dict(img=img, img_id=0))
            with torch.no_grad():
                result = self.model.test_step(pseudo_collate([data]))[0]
        inst = result.pred_instances
        bboxes = inst.bboxes.detach().cpu().float().numpy().reshape(-1, 4)
        scores = inst.scores.detach().cpu().float().numpy().reshape(-1)
        labels = inst.labels.detach().cpu().numpy().reshape(-1)
        keep = (labels == self.cat_id) & (scores >= score_thr)
        out = np.concatenate([bboxes[keep], scores[keep, None]], axis=1).astype(np.float32)
        out = out[np.argsort(-out[:, 4], kind='stable')]
        if max_persons is not None and max_persons > 0:
            out = out[:max_persons]
        return out
