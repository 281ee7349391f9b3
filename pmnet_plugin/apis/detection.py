"""Person detection with ``mmdet.apis.init_detector`` and ``inference_detector``.

Both run inside ``DefaultScope.overwrite_default_scope('mmdet')``, so the ``mmpose`` default scope of
the mesh model is the current one again after construction and after each call.

Note:
    - number of detections: N
"""
import importlib.util
import logging
import os.path as osp
import warnings
from pathlib import Path
from typing import Optional, Union

import numpy as np
from mmdet.apis import inference_detector, init_detector
from mmengine.config import Config
from mmengine.dataset import Compose
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

    Raises:
        MissingCheckpointError: ``checkpoint`` is absent and ``allow_random_init`` is False.
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
        found = checkpoint is not None and osp.isfile(checkpoint)
        if not found and not allow_random_init:
            raise MissingCheckpointError(missing_checkpoint_message(config_path, checkpoint))
        self.cat_id = cat_id
        self.device = device
        # the first step reads an ndarray; the annotations are not needed at test time
        pipeline = [dict(t) for t in config.test_dataloader.dataset.pipeline
                    if 'LoadAnnotations' not in str(t['type'])]
        pipeline[0] = dict(type='mmdet.LoadImageFromNDArray')
        # init_detector sets warnings.simplefilter('once') and warns that a model without a
        # checkpoint uses the COCO classes: the filters are restored, that warning is dropped.
        with DefaultScope.overwrite_default_scope('mmdet'), \
                warnings.catch_warnings(record=not found):
            # cfg_options=None: init_detector drops backbone.init_cfg (no ImageNet download).
            # Built on the CPU: a random init draws from the CPU generator whatever the device.
            self.model = init_detector(config, checkpoint if found else None, device='cpu')
            if not found:  # random weights (tests): the detector's own init (e.g. score bias priors)
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
            result = inference_detector(self.model, img, test_pipeline=self.pipeline)
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
